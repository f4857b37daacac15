import { connect as connectTcp } from 'node:net';
import ssh2, { type AnyAuthMethod, type AuthenticationType, type ClientChannel, Client, type ServerHostKeyAlgorithm, type SFTPWrapper } from 'ssh2';
import { CancelledError, ConnectivityError, RemoteOperationError } from '../errors.js';
import { TailBuffer } from './powershell/localPowerShell.js';
import {
  appendKnownHost,
  checkHostKey,
  fingerprintSha256,
  knownHostsLine,
  knownKeyTypes,
  keyTypeOf,
  readKnownHosts,
} from './sshKnownHosts.js';

/**
 * One SSH connection to one host, through the ssh2 package: the TCP connection (Nagle off), the
 * host key checked against known_hosts, authentication, keepalives, commands on exec channels and
 * one SFTP channel, all multiplexed over that single connection.
 */

export interface SshEndpoint {
  /** The target as sql_targets.json names it: messages and known_hosts use this name. */
  readonly server: string;
  /** Where the TCP connection goes: the server name itself, or an address that stands in for it. */
  readonly address: string;
  readonly port: number;
}

/** How to log in. The secrets stay in memory; `description` is what messages say instead. */
export interface SshLogin {
  readonly username: string;
  readonly password?: string | undefined;
  readonly privateKeys?: readonly SshPrivateKey[] | undefined;
  /** ssh-agent socket ($SSH_AUTH_SOCK). */
  readonly agent?: string | undefined;
  /** E.g. `credential "patch-key" (key file keys/id_ed25519)`; never a secret. */
  readonly description: string;
}

export interface SshPrivateKey {
  readonly key: Buffer;
  readonly passphrase?: string | undefined;
  /** The file it came from, for messages. */
  readonly source: string;
}

export interface HostKeyPolicy {
  readonly knownHostsFile: string;
  /** Accept and record a host that known_hosts does not name; a changed key is refused regardless. */
  readonly trustOnFirstUse: boolean;
  /** Told when a key was recorded on first use. */
  readonly onRecorded?: ((message: string) => void) | undefined;
}

export interface ConnectSettings {
  /** TCP connection, SSH handshake and authentication together. */
  readonly connectTimeoutMs: number;
  /** Interval of SSH keepalives; the connection is declared dead after `keepaliveCountMax` unanswered. */
  readonly keepaliveMs: number;
  readonly keepaliveCountMax: number;
}

/** A command that did not answer in time; the channel was closed and the connection may be dead. */
export class SshCommandTimeoutError extends RemoteOperationError {
  constructor(server: string, label: string, timeoutMs: number) {
    super(server, label, `no answer within ${Math.round(timeoutMs / 1000)} s; stopped waiting`);
    this.name = 'SshCommandTimeoutError';
  }
}

export interface CommandOutcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly exitSignal: NodeJS.Signals | null;
}

const STDOUT_LIMIT = 16 * 1024 * 1024;
// ssh2's names for host key algorithms, by the key type recorded in known_hosts.
const HOST_KEY_ALGORITHMS: Readonly<Record<string, readonly ServerHostKeyAlgorithm[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};
const DEFAULT_HOST_KEY_ALGORITHMS = Object.values(HOST_KEY_ALGORITHMS).flat();

function where(endpoint: SshEndpoint): string {
  return endpoint.address === endpoint.server ? `port ${endpoint.port}` : `${endpoint.address} port ${endpoint.port}`;
}

/** Known types first, so the server presents a key the file can vouch for; the rest after. */
function hostKeyPreference(knownTypes: readonly string[]): ServerHostKeyAlgorithm[] {
  const preferred = knownTypes.flatMap((type) => HOST_KEY_ALGORITHMS[type] ?? []);
  return [...new Set([...preferred, ...DEFAULT_HOST_KEY_ALGORITHMS])];
}

function socketErrorMessage(endpoint: SshEndpoint, error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return `connection refused at ${endpoint.address} port ${endpoint.port}: is the OpenSSH server (sshd) running there, and the port open?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the name ${endpoint.address} cannot be resolved (${error.code})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${endpoint.address} cannot be reached (${error.code}): check the network path and firewall`;
    case 'ECONNRESET':
      return `the connection to ${endpoint.address} port ${endpoint.port} was reset before the SSH session was set up`;
    default:
      return `cannot connect to ${endpoint.address} port ${endpoint.port}: ${error.message}`;
  }
}

/** Checks the host key; returns the refusal to report, or null to accept. */
function verifyHostKey(endpoint: SshEndpoint, policy: HostKeyPolicy, keyBlob: Buffer): string | null {
  const { server, port } = endpoint;
  const file = policy.knownHostsFile;
  const fingerprint = fingerprintSha256(keyBlob);
  const offered = `${keyTypeOf(keyBlob)} key ${fingerprint}`;
  const verdict = checkHostKey(readKnownHosts(file), server, port, keyBlob);
  switch (verdict.kind) {
    case 'known':
      return null;
    case 'revoked':
      return `the host key offered by ${server} port ${port} (${offered}) is marked @revoked in ${file} line ${verdict.line}; refusing to connect`;
    case 'changed':
      return `HOST KEY CHANGED: ${server} port ${port} offered ${offered}, but ${file} line ${verdict.line} records ${verdict.knownType} key ${verdict.knownFingerprint} for it. Someone may be intercepting the connection, or the server was reinstalled. Refusing to connect; if the change is expected, confirm the new fingerprint with the server's administrator and replace line ${verdict.line}`;
    case 'unknown':
      if (policy.trustOnFirstUse) {
        appendKnownHost(file, server, port, keyBlob);
        policy.onRecorded?.(`${server}: first connection: recorded host key ${offered} in ${file} (trust_on_first_use)`);
        return null;
      }
      return `the host key offered by ${server} port ${port} (${offered}) is not in ${file}: refusing to connect. Confirm the fingerprint with the server's administrator (on the server: ssh-keygen -lf C:\\ProgramData\\ssh\\ssh_host_ed25519_key.pub), then add the line "${knownHostsLine(server, port, keyBlob)}" to ${file}, or set hotfix.ssh.trust_on_first_use`;
    default: {
      const never: never = verdict;
      throw new Error(`unknown host key verdict ${JSON.stringify(never)}`);
    }
  }
}

function authenticationMethods(login: SshLogin): AnyAuthMethod[] {
  const { username } = login;
  const methods: AnyAuthMethod[] = [];
  for (const key of login.privateKeys ?? []) {
    methods.push({ type: 'publickey', username, key: key.key, ...(key.passphrase !== undefined ? { passphrase: key.passphrase } : {}) });
  }
  if (login.agent) methods.push({ type: 'agent', username, agent: login.agent });
  const password = login.password;
  if (password !== undefined) {
    methods.push({ type: 'password', username, password });
    // Servers that authenticate passwords through PAM ask for them as keyboard-interactive prompts;
    // only prompts that ask for a password get it.
    methods.push({
      type: 'keyboard-interactive',
      username,
      prompt: (_name, _instructions, _lang, prompts, finish) => finish(prompts.map((p) => (/password/i.test(p.prompt) ? password : ''))),
    });
  }
  return methods;
}

/** Checks that each private key can be read (and decrypted) before any connection is made. */
export function checkPrivateKeys(server: string, login: SshLogin): void {
  for (const key of login.privateKeys ?? []) {
    const parsed = ssh2.utils.parseKey(key.key, key.passphrase);
    if (parsed instanceof Error) {
      const hint = /passphrase/i.test(parsed.message) ? ' (check passphrase_env)' : '';
      throw new ConnectivityError(server, `the private key ${key.source} cannot be used: ${parsed.message}${hint}`);
    }
  }
}

/** Opens the connection: TCP, handshake, host key, login. Rejects with ConnectivityError. */
export function openSshConnection(
  endpoint: SshEndpoint,
  login: SshLogin,
  policy: HostKeyPolicy,
  settings: ConnectSettings,
  signal?: AbortSignal,
): Promise<SshConnection> {
  const { server } = endpoint;
  checkPrivateKeys(server, login);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new CancelledError());
      return;
    }
    const client = new Client();
    let hostKeyRefusal: string | null = null;
    let serverMethods: readonly string[] | null = null;
    let settled = false;
    const socket = connectTcp({ host: endpoint.address, port: endpoint.port });
    // Operations are many small request/answer exchanges: no waiting to fill packets.
    socket.setNoDelay(true);

    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (message: string | Error): void => {
      if (settled) return;
      settled = true;
      cleanup();
      client.end();
      socket.destroy();
      reject(message instanceof Error ? message : new ConnectivityError(server, message));
    };
    const onAbort = (): void => fail(new CancelledError());
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => fail(`no SSH session with ${where(endpoint)} within ${settings.connectTimeoutMs / 1000} s (hotfix.ssh.connect_timeout_seconds)`),
      settings.connectTimeoutMs,
    );

    // Before the TCP connection stands, its errors are ours to report; after, ssh2 reports them.
    let tcpConnected = false;
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (!tcpConnected) fail(socketErrorMessage(endpoint, error));
    });
    client.on('error', (error: Error & { level?: string }) => {
      if (hostKeyRefusal !== null) return fail(hostKeyRefusal);
      if (error.level === 'client-authentication') {
        const accepted = serverMethods ? ` (the server accepts: ${serverMethods.join(', ')})` : '';
        return fail(`authentication as "${login.username}" failed: the server refused ${login.description}${accepted}`);
      }
      if (error.level === 'client-socket') return fail(socketErrorMessage(endpoint, error as NodeJS.ErrnoException));
      fail(`SSH handshake with ${where(endpoint)} failed: ${error.message}`);
    });
    client.on('close', () => fail(hostKeyRefusal ?? `the server at ${where(endpoint)} closed the connection during the SSH handshake`));
    client.once('ready', () => {
      if (settled) {
        client.end();
        return;
      }
      settled = true;
      cleanup();
      resolve(new SshConnection(client, endpoint));
    });

    socket.once('connect', () => {
      tcpConnected = true;
      const methods = authenticationMethods(login);
      client.connect({
        sock: socket,
        username: login.username,
        keepaliveInterval: settings.keepaliveMs,
        keepaliveCountMax: settings.keepaliveCountMax,
        // The overall timer above covers the handshake.
        readyTimeout: 0,
        algorithms: { serverHostKey: hostKeyPreference(knownKeyTypes(readKnownHosts(policy.knownHostsFile), server, endpoint.port)) },
        hostVerifier: (key: Buffer, verify: (valid: boolean) => void): void => {
          try {
            hostKeyRefusal = verifyHostKey(endpoint, policy, key);
          } catch (error) {
            hostKeyRefusal = `the host key could not be checked against ${policy.knownHostsFile}: ${(error as Error).message}`;
          }
          verify(hostKeyRefusal === null);
        },
        authHandler: (methodsLeft: AuthenticationType[] | null, _partialSuccess: boolean | null, next) => {
          if (methodsLeft) serverMethods = methodsLeft;
          // Servers name the methods they accept; keys from an agent go as "publickey".
          const index = methods.findIndex((m) => methodsLeft === null || methodsLeft.includes(m.type === 'agent' ? 'publickey' : m.type));
          // false ends the login as failed: ssh2 takes it, though its typings omit it.
          if (index < 0) return next(false as unknown as AuthenticationType);
          const [method] = methods.splice(index, 1);
          next(method!);
        },
      });
    });
  });
}

/**
 * A live connection. Watches for its loss (socket closed, keepalives unanswered) so that a command
 * waiting on it ends with a ConnectivityError rather than waiting forever.
 */
export class SshConnection {
  private lostReason: string | null = null;
  private readonly lossListeners = new Set<(reason: string) => void>();
  private sftpChannel: Promise<SFTPWrapper> | null = null;

  constructor(
    private readonly client: Client,
    readonly endpoint: SshEndpoint,
  ) {
    // ssh2 throws an 'error' event with no listener: this one stays for the connection's life.
    client.on('error', (error: Error & { level?: string }) => {
      const reason = error.level === 'client-timeout' ? `no answer to keepalives (${error.message})` : error.message;
      this.lost(reason);
    });
    client.on('close', () => this.lost('the connection closed'));
  }

  get alive(): boolean {
    return this.lostReason === null;
  }

  private lost(reason: string): void {
    if (this.lostReason !== null) return;
    this.lostReason = reason;
    for (const listener of [...this.lossListeners]) listener(reason);
  }

  private onLoss(listener: (reason: string) => void): () => void {
    this.lossListeners.add(listener);
    return () => this.lossListeners.delete(listener);
  }

  private lostError(during: string): ConnectivityError {
    return new ConnectivityError(this.endpoint.server, `the SSH connection was lost during ${during}: ${this.lostReason ?? 'unknown reason'}`);
  }

  /**
   * Runs a command on an exec channel, sends `stdin` and end-of-file, and collects what it prints.
   * Rejects with ConnectivityError when the connection is lost, SshCommandTimeoutError on timeout
   * and CancelledError on abort; the channel is closed in each case.
   */
  exec(command: string, stdin: string, options: { readonly label: string; readonly timeoutMs: number; readonly signal?: AbortSignal | undefined }): Promise<CommandOutcome> {
    const { server } = this.endpoint;
    const { label, signal } = options;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new CancelledError());
      if (!this.alive) return reject(this.lostError(label));
      let channel: ClientChannel | null = null;
      let done = false;
      let stdout = '';
      const stderr = new TailBuffer(8192);
      let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;

      const finish = (error: Error | null): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        stopWatching();
        if (error) {
          try {
            channel?.close();
          } catch {
            // The channel is gone with its connection.
          }
          reject(error);
          return;
        }
        resolve({ stdout, stderr: stderr.toString(), exitCode: exit?.code ?? null, exitSignal: exit?.signal ?? null });
      };
      const onAbort = (): void => finish(new CancelledError());
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => finish(new SshCommandTimeoutError(server, label, options.timeoutMs)), options.timeoutMs);
      const stopWatching = this.onLoss(() => finish(this.lostError(label)));

      this.client.exec(command, (error, stream) => {
        if (error) {
          finish(this.alive ? new RemoteOperationError(server, label, `the server would not run the command: ${error.message}`) : this.lostError(label));
          return;
        }
        if (done) {
          stream.close();
          return;
        }
        channel = stream;
        stream.setEncoding('utf8');
        stream.stderr.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          stdout += chunk;
          if (stdout.length > STDOUT_LIMIT) finish(new RemoteOperationError(server, label, `the command printed more than ${STDOUT_LIMIT} characters`));
        });
        stream.stderr.on('data', (chunk: string) => stderr.append(chunk));
        stream.on('exit', (code: number | null, exitSignal?: string) => {
          exit = { code: code ?? null, signal: exitSignal ? (`SIG${exitSignal}` as NodeJS.Signals) : null };
        });
        stream.on('error', (streamError: Error) => finish(this.alive ? new RemoteOperationError(server, label, streamError.message) : this.lostError(label)));
        stream.on('close', () => {
          if (exit !== null) finish(null);
          else if (!this.alive) finish(this.lostError(label));
          else finish(new RemoteOperationError(server, label, 'the command ended without an exit status (was it killed on the target?)'));
        });
        stream.end(stdin);
      });
    });
  }

  /** The connection's SFTP channel, opened on first use. */
  sftp(): Promise<SFTPWrapper> {
    if (!this.alive) return Promise.reject(this.lostError('SFTP'));
    this.sftpChannel ??= new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((error, sftp) => {
        if (error) {
          this.sftpChannel = null;
          reject(
            this.alive
              ? new RemoteOperationError(this.endpoint.server, 'stage', `the SFTP subsystem is not available: ${error.message} (is "Subsystem sftp" set in sshd_config?)`)
              : this.lostError('SFTP'),
          );
          return;
        }
        sftp.on('close', () => {
          this.sftpChannel = null;
        });
        resolve(sftp);
      });
    });
    return this.sftpChannel;
  }

  /** Ends the connection (and with it every channel). */
  close(): void {
    this.lost('closed by the orchestrator');
    this.client.end();
  }
}
