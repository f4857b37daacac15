import type { ResolvedCredential } from './credentials.js';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import path from 'node:path';
import { delay } from './delay.js';
import type { SFTPWrapper } from 'ssh2';
import { CancelledError, ConnectivityError, errorMessage, RemoteOperationError } from '../errors.js';
import { interpretOutcome, powershellArguments } from './powershell/localPowerShell.js';
import type { OperationArguments, OperationResult } from './powershell/operationOutput.js';
import {
  buildQueryFrom,
  discoveryFrom,
  installerStatusFrom,
  installResultFrom,
  preflightFactsFrom,
  topologyFrom,
} from './powershell/operationResults.js';
import { buildOperationScript, encodeOperationArguments, type OperationName } from './powershell/operationScript.js';
import {
  type CommandOutcome,
  type HostKeyPolicy,
  openSshConnection,
  SshCommandTimeoutError,
  type SshConnection,
  type SshEndpoint,
  type SshLogin,
  type SshPrivateKey,
} from './sshConnection.js';
import type {
  BuildQuery,
  DiscoveryResult,
  HostAddress,
  HostSession,
  InstallerSignature,
  InstallerStatus,
  InstallRequest,
  InstallResult,
  InstanceHealth,
  PreflightFacts,
  PreflightRequest,
  RestartRequest,
  StageRequest,
  StageResult,
  TopologyChange,
  TopologyResult,
  Transport,
} from './transport.js';

/**
 * The `ssh` transport: OpenSSH on the targets (Windows Server's OpenSSH Server), reached with the
 * ssh2 package. One SSH connection per host carries all of its operations: each `.ps1` operation runs
 * in a `powershell -NoProfile -NonInteractive` started on an exec channel, and installers travel over
 * the connection's SFTP channel. See docs/ssh.md.
 */

/** What audit_config.json `hotfix.ssh` (and `hotfix.staging_dir`) configure. */
export interface SshOptions {
  /** Folder on the targets for installers and execution records (`hotfix.staging_dir`). */
  readonly stagingDir: string;
  /** known_hosts file the host keys are checked against. Default ~/.ssh/known_hosts. */
  readonly knownHostsFile?: string | undefined;
  /** Accept and record a host that known_hosts does not know; a changed key is refused regardless. */
  readonly trustOnFirstUse?: boolean | undefined;
  /** TCP connection, handshake and login. Default 15 s. */
  readonly connectTimeoutMs?: number | undefined;
  /** SSH keepalive interval. Default 15 s; three unanswered ones end the connection. */
  readonly keepaliveMs?: number | undefined;
  /** PowerShell command on the target: `powershell` (Windows PowerShell 5.1, the default) or `pwsh`. */
  readonly powershell?: string | undefined;
  /** SFTP write requests in flight while staging. Default 8. */
  readonly stagingConcurrency?: number | undefined;
  /** Bytes per SFTP write request. Default 256 KiB. */
  readonly stagingChunkBytes?: number | undefined;
  /** Port when a target names none. Default 22. */
  readonly port?: number | undefined;
  /**
   * Connect here instead of to each target's server name; host keys are still looked up by the
   * server name. The SSH test bed runs every host on the loopback address this way.
   */
  readonly connectAddress?: string | undefined;
  /** Time allowed for one operation other than staging and installing. Default 5 minutes. */
  readonly operationTimeoutMs?: number | undefined;
  /** Time allowed to copy one installer, and to hash it on the target. Default 60 minutes. */
  readonly copyTimeoutMs?: number | undefined;
  /**
   * Beyond the step timeout (which the target enforces by stopping the installer), how long the
   * orchestrator goes on asking before it gives up on the step. Default 2 minutes.
   */
  readonly installGraceMs?: number | undefined;
}

/** A named credential with its secret, as src/remote/credentials.ts resolves it. */
export type SshCredential = ResolvedCredential;

export interface SshDependencies {
  /** Turns a credential name from sql_targets.json into the account and its secret. */
  readonly resolveCredential?: ((name: string) => Promise<SshCredential>) | undefined;
  /** The login for targets that name no credential. Default: the local user with ssh-agent and ~/.ssh keys. */
  readonly defaultLogin?: (() => SshLogin) | undefined;
  /** Surfaces files to load instead of Surfaces.Windows.ps1 (the test bed's lab surfaces). */
  readonly surfaces?: readonly string[] | undefined;
  /** Receives facts worth a log line (a host key recorded, a reconnect, a build read from the registry). */
  readonly onNote?: ((server: string, message: string) => void) | undefined;
  /** How long one install call waits on the target before the orchestrator asks again. Default 30 s. */
  readonly installPollSeconds?: number | undefined;
  /** Pauses before each attempt to reconnect while an installer runs. Default 1, 3 and 5 s. */
  readonly reconnectDelaysMs?: readonly number[] | undefined;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
const DEFAULT_KEEPALIVE_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 3;
const PROBE_TIMEOUT_MS = 60_000;
// How long a closed session's connection waits for the host's next session.
const PARKED_CONNECTION_MS = 60_000;
// The first install call starts the installer and waits this long before it answers: a short
// installer is done by then, and a second Ctrl+C never waits longer than this for the start to finish.
const LAUNCH_WAIT_SECONDS = 3;
const DEFAULT_OPERATION_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_COPY_TIMEOUT_MS = 60 * 60_000;
const DEFAULT_INSTALL_GRACE_MS = 2 * 60_000;
const DEFAULT_INSTALL_POLL_SECONDS = 30;
const DEFAULT_RECONNECT_DELAYS_MS = [1_000, 3_000, 5_000];
const DEFAULT_STAGING_CONCURRENCY = 8;
// OpenSSH's sftp-server takes writes of up to 256 KiB; larger chunks would be split again.
const DEFAULT_STAGING_CHUNK_BYTES = 256 * 1024 - 1024;
// Beyond its own wait, an install call starts PowerShell, may wait up to 60 s for the installer's
// wrapper to start, and may stop a process tree.
const INSTALL_CALL_MARGIN_MS = 120_000;

/** cmd.exe, the default shell of Windows OpenSSH, takes command lines of up to 8191 characters. */
export const COMMAND_LINE_LIMIT = 8191;
// Room for the shell's own wrapping of the command and for a longer PowerShell path.
const COMMAND_LINE_MARGIN = 1024;

export interface PowerShellInvocation {
  readonly command: string;
  readonly stdin: string;
  /** `encoded`: the whole script on the command line; `stdin`: the bootstrap reads it from standard input. */
  readonly mode: 'encoded' | 'stdin';
}

function quoteCommand(command: string): string {
  return /\s/.test(command) ? `"${command}"` : command;
}

/**
 * The command line and standard input that run a script with its one argument (base64) in PowerShell
 * on the target: `-EncodedCommand` carries the whole script when the command line stays within what
 * cmd.exe accepts, otherwise the short bootstrap does, and the script and its argument follow on stdin.
 */
export function powershellInvocation(powershell: string, script: string, argumentLine: string): PowerShellInvocation {
  // Only base64 enters the command text, inside single quotes where it cannot end the literal.
  if (!/^[A-Za-z0-9+/=]*$/.test(argumentLine)) throw new Error('the operation argument must be base64');
  const executable = quoteCommand(powershell);
  const text = `& {\n${script}\n} '${argumentLine}'`;
  const encoded = `${executable} -NoLogo -NoProfile -NonInteractive -EncodedCommand ${Buffer.from(text, 'utf16le').toString('base64')}`;
  if (encoded.length <= COMMAND_LINE_LIMIT - COMMAND_LINE_MARGIN) return { command: encoded, stdin: '', mode: 'encoded' };
  return {
    command: [executable, ...powershellArguments()].join(' '),
    stdin: `${Buffer.from(script, 'utf8').toString('base64')}\n${argumentLine}\n`,
    mode: 'stdin',
  };
}

/**
 * Where SFTP finds a path on the target. Windows OpenSSH's SFTP server names `C:\Windows\Temp` as
 * `/C:/Windows/Temp`; POSIX paths (the test bed) pass through.
 */
export function sftpPathFor(targetPath: string): string {
  if (/^[A-Za-z]:[\\/]/.test(targetPath)) return `/${targetPath.replace(/\\/g, '/')}`;
  if (/^[\\/]{2}/.test(targetPath)) {
    throw new Error(`the staging folder ${targetPath} is a UNC path, which SFTP cannot write to; set hotfix.staging_dir to a local folder of the targets`);
  }
  return targetPath.replace(/\\/g, '/');
}

/** The local user, with ssh-agent (when running) and the unencrypted default keys in ~/.ssh. */
export function defaultSshLogin(home: string = homedir(), env: NodeJS.ProcessEnv = process.env): SshLogin {
  const privateKeys: SshPrivateKey[] = [];
  for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    const file = path.join(home, '.ssh', name);
    if (!existsSync(file)) continue;
    const key = readFileSync(file);
    // An encrypted default key needs a passphrase nobody configured: a named credential is the way.
    if (key.includes('ENCRYPTED') || isEncryptedOpenSshKey(key)) continue;
    privateKeys.push({ key, source: file });
  }
  const agent = env.SSH_AUTH_SOCK || undefined;
  const tried = [...(agent ? ['ssh-agent'] : []), ...privateKeys.map((k) => k.source)];
  return {
    username: userInfo().username,
    privateKeys,
    agent,
    description: tried.length > 0 ? `the local user's keys (${tried.join(', ')})` : 'no key (no ssh-agent and no unencrypted key in ~/.ssh; name a credential)',
  };
}

function isEncryptedOpenSshKey(key: Buffer): boolean {
  const text = key.toString('utf8');
  const body = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END/.exec(text)?.[1];
  if (!body) return false;
  // The OpenSSH key format names its cipher right after the magic: "none" when unencrypted.
  const decoded = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  const magic = 'openssh-key-v1\0';
  if (decoded.subarray(0, magic.length).toString('latin1') !== magic) return false;
  const length = decoded.readUInt32BE(magic.length);
  return decoded.subarray(magic.length + 4, magic.length + 4 + length).toString('latin1') !== 'none';
}

function loginFor(credential: SshCredential): SshLogin {
  const userName = credential.userName || userInfo().username;
  const parts = [
    ...(credential.privateKey ? [`its private key${credential.passphrase !== undefined ? ' (with passphrase)' : ''}`] : []),
    ...(credential.password !== undefined ? ['its password'] : []),
  ];
  return {
    username: userName,
    password: credential.password,
    privateKeys: credential.privateKey ? [{ key: credential.privateKey, passphrase: credential.passphrase, source: `of credential "${credential.name}"` }] : [],
    description: `credential "${credential.name}" (${parts.join(' and ') || 'nothing to offer'})`,
  };
}

/** A connection whose session closed, kept a little for the host's next session (see park). */
interface ParkedConnection {
  readonly connection: SshConnection;
  readonly powershellVersion: string | null;
  readonly timer: NodeJS.Timeout;
}

export class SshTransport implements Transport {
  readonly name = 'ssh' as const;
  private readonly sessions = new Set<SshHostSession>();
  private readonly parked = new Map<string, ParkedConnection>();
  private disposed = false;

  constructor(
    private readonly options: SshOptions,
    private readonly dependencies: SshDependencies = {},
  ) {}

  private policy(): HostKeyPolicy {
    return {
      knownHostsFile: this.options.knownHostsFile ?? path.join(homedir(), '.ssh', 'known_hosts'),
      trustOnFirstUse: this.options.trustOnFirstUse ?? false,
      onRecorded: (message) => this.dependencies.onNote?.(message.slice(0, message.indexOf(':')), message),
    };
  }

  private async login(address: HostAddress): Promise<SshLogin> {
    if (address.credential === undefined) return (this.dependencies.defaultLogin ?? defaultSshLogin)();
    if (!this.dependencies.resolveCredential) {
      throw new ConnectivityError(address.server, `credential "${address.credential}" is named but no credential resolver was configured`);
    }
    try {
      return loginFor(await this.dependencies.resolveCredential(address.credential));
    } catch (error) {
      throw new ConnectivityError(address.server, errorMessage(error), { cause: error });
    }
  }

  private async connect(address: HostAddress, signal?: AbortSignal): Promise<SshConnection> {
    const endpoint: SshEndpoint = {
      server: address.server,
      address: this.options.connectAddress ?? address.server,
      port: address.port ?? this.options.port ?? 22,
    };
    const login = await this.login(address);
    return openSshConnection(
      endpoint,
      login,
      this.policy(),
      {
        connectTimeoutMs: this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        keepaliveMs: this.options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
        keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      },
      signal,
    );
  }

  async open(address: HostAddress, signal?: AbortSignal): Promise<HostSession> {
    if (this.disposed) throw new ConnectivityError(address.server, 'the ssh transport was disposed');
    const key = connectionKey(address);
    const connector = (connectSignal?: AbortSignal): Promise<SshConnection> => this.connect(address, connectSignal);
    const onClosed = (session: SshHostSession, connection: SshConnection | null): void => {
      this.sessions.delete(session);
      if (connection) this.park(key, connection, session.powershellVersion);
    };
    const reused = this.unpark(key);
    if (reused) {
      // Proven by the probe of the session that opened it; a broken one would not be alive.
      const session = new SshHostSession(address.server, reused.connection, connector, this.options, this.dependencies, onClosed);
      session.powershellVersion = reused.powershellVersion;
      this.sessions.add(session);
      return session;
    }
    const connection = await connector(signal);
    const session = new SshHostSession(address.server, connection, connector, this.options, this.dependencies, onClosed);
    try {
      // Proves that PowerShell starts and runs the operations (a login can work and the shell not).
      await session.probe(signal);
    } catch (error) {
      // Not kept for a later session: it could not run the operations.
      connection.close();
      await session.close();
      if (error instanceof CancelledError || error instanceof ConnectivityError) throw error;
      throw new ConnectivityError(address.server, `the SSH session opened but cannot run operations: ${errorMessage(error)}`, { cause: error });
    }
    this.sessions.add(session);
    return session;
  }

  /**
   * Keeps the connection of a closed session open for a while: planning discovers a host and the
   * deployment then opens it again, and one connection (already proven to run PowerShell) serves both.
   */
  private park(key: string, connection: SshConnection, powershellVersion: string | null): void {
    if (this.disposed || !connection.alive) {
      connection.close();
      return;
    }
    this.unpark(key)?.connection.close();
    const timer = setTimeout(() => this.unpark(key)?.connection.close(), PARKED_CONNECTION_MS);
    timer.unref();
    this.parked.set(key, { connection, powershellVersion, timer });
  }

  private unpark(key: string): ParkedConnection | null {
    const parked = this.parked.get(key);
    if (!parked) return null;
    this.parked.delete(key);
    clearTimeout(parked.timer);
    if (parked.connection.alive) return parked;
    parked.connection.close();
    return null;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await Promise.all([...this.sessions].map((session) => session.close()));
    this.sessions.clear();
    for (const key of [...this.parked.keys()]) this.unpark(key)?.connection.close();
  }
}

function connectionKey(address: HostAddress): string {
  return JSON.stringify([address.server.toLowerCase(), address.port ?? null, address.credential ?? null]);
}

/** One host: one SSH connection, reopened only when it breaks. */
export class SshHostSession implements HostSession {
  private connection: SshConnection | null;
  private reconnecting: Promise<SshConnection> | null = null;
  private closed = false;
  /** PowerShell on the target as the probe reported it (`5.1.17763.1`). */
  powershellVersion: string | null = null;

  constructor(
    readonly server: string,
    connection: SshConnection,
    private readonly connector: (signal?: AbortSignal) => Promise<SshConnection>,
    private readonly options: SshOptions,
    private readonly dependencies: SshDependencies,
    /** Receives the session's connection when it is still open, for the transport to keep or end. */
    private readonly onClosed: (session: SshHostSession, connection: SshConnection | null) => void,
  ) {
    this.connection = connection;
  }

  private get powershell(): string {
    return this.options.powershell ?? 'powershell';
  }

  private async live(signal?: AbortSignal): Promise<SshConnection> {
    if (this.closed) throw new ConnectivityError(this.server, 'the session was closed');
    if (this.connection?.alive) return this.connection;
    this.connection = null;
    this.reconnecting ??= this.connector(signal).finally(() => {
      this.reconnecting = null;
    });
    const connection = await this.reconnecting;
    // Closed while reconnecting: nobody will use or end this connection but here.
    if (this.closed) {
      connection.close();
      throw new ConnectivityError(this.server, 'the session was closed');
    }
    this.connection = connection;
    return connection;
  }

  /** Ends a connection that no longer answers, so that the next operation opens a new one. */
  private drop(): void {
    this.connection?.close();
    this.connection = null;
  }

  /** Runs one script with its argument in PowerShell on the target and returns what it printed. */
  async runScript(
    script: string,
    argumentLine: string,
    options: { readonly label: string; readonly timeoutMs: number; readonly signal?: AbortSignal | undefined },
  ): Promise<CommandOutcome & { readonly mode: PowerShellInvocation['mode'] }> {
    const connection = await this.live(options.signal);
    const invocation = powershellInvocation(this.powershell, script, argumentLine);
    const outcome = await connection.exec(invocation.command, invocation.stdin, options);
    return { ...outcome, mode: invocation.mode };
  }

  /** Runs one operation on the target and returns its checked result. */
  async invoke<N extends OperationName>(
    operation: N,
    args: OperationArguments[N],
    options: { readonly timeoutMs?: number | undefined; readonly signal?: AbortSignal | undefined } = {},
  ): Promise<OperationResult<N>> {
    const script = buildOperationScript(operation, { surfaces: this.dependencies.surfaces });
    const outcome = await this.runScript(script, encodeOperationArguments(args), {
      label: operation,
      timeoutMs: options.timeoutMs ?? this.options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS,
      signal: options.signal,
    });
    // 127: the POSIX shell found no such command; 9009: cmd.exe did not recognise it.
    if ((outcome.exitCode === 127 || outcome.exitCode === 9009) && outcome.stdout.trim() === '') {
      throw new RemoteOperationError(
        this.server,
        operation,
        `the PowerShell command "${this.powershell}" was not found on the target (exit ${outcome.exitCode}); set hotfix.ssh.powershell to its name or full path`,
      );
    }
    return interpretOutcome(operation, outcome, this.server);
  }

  async probe(signal?: AbortSignal): Promise<OperationResult<'probe'>> {
    // PowerShell's first start on a host can take several seconds (it compiles and caches its modules).
    const timeoutMs = Math.max(PROBE_TIMEOUT_MS, this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    const result = await this.invoke('probe', {}, { signal, timeoutMs });
    this.powershellVersion = result.powershellVersion;
    return result;
  }

  async discover(signal?: AbortSignal): Promise<DiscoveryResult> {
    return discoveryFrom(await this.invoke('discover', {}, { signal }));
  }

  async preflight(request: PreflightRequest, signal?: AbortSignal): Promise<PreflightFacts> {
    const result = await this.invoke(
      'preflight',
      { stagingDir: request.stagingDir, instances: request.instances, ignorePendingFileRename: request.ignorePendingFileRename },
      { signal },
    );
    return preflightFactsFrom(result);
  }

  /** The staged installer's Authenticode signature, as the target reports it (null when it cannot tell). */
  async installerSignature(remotePath: string, stagingDir: string, signal?: AbortSignal): Promise<InstallerSignature | null> {
    const result = await this.invoke('preflight', { stagingDir, instances: [], ignorePendingFileRename: true, installerPath: remotePath }, { signal });
    return result.authenticode ? { status: result.authenticode.status, signer: result.authenticode.signer } : null;
  }

  /**
   * Asks the target first and copies only what is missing or different; the copy goes to a temporary
   * name and is renamed into place, so no reader ever sees half an installer under the real name;
   * then the target hashes it again.
   */
  async stage(request: StageRequest, signal?: AbortSignal): Promise<StageResult> {
    const expected = request.sha256.toLowerCase();
    const copyTimeoutMs = this.options.copyTimeoutMs ?? DEFAULT_COPY_TIMEOUT_MS;
    const check = (createDirectory: boolean): Promise<OperationResult<'stagedFile'>> =>
      this.invoke(
        'stagedFile',
        { stagingDir: request.stagingDir, fileName: request.fileName, expectedSizeBytes: request.sizeBytes, createDirectory },
        // Hashing a large installer on a slow disk takes minutes.
        { signal, timeoutMs: copyTimeoutMs },
      );
    const before = await check(true);
    if (before.exists && before.sha256 === expected) return { remotePath: before.path, sha256: expected, alreadyPresent: true };

    let target: string;
    try {
      target = sftpPathFor(before.path);
    } catch (error) {
      throw new RemoteOperationError(this.server, 'stage', errorMessage(error));
    }
    await this.upload(request, target, copyTimeoutMs, signal);

    const after = await check(false);
    if (!after.exists || after.sha256 !== expected) {
      const found = after.exists ? `SHA-256 ${after.sha256 ?? `unknown (size ${after.sizeBytes} bytes, expected ${request.sizeBytes})`}` : 'no file';
      throw new RemoteOperationError(
        this.server,
        'stage',
        `the staged copy ${after.path} has ${found}, expected SHA-256 ${expected}; it is copied again on the next attempt`,
      );
    }
    return { remotePath: after.path, sha256: expected, alreadyPresent: false };
  }

  private async upload(request: StageRequest, target: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const connection = await this.live(signal);
    const sftp = await connection.sftp();
    const partial = `${target}.${randomBytes(6).toString('hex')}.partial`;
    const label = `stage ${request.fileName}`;
    const failure = (error: unknown): Error => {
      if (error instanceof CancelledError || error instanceof ConnectivityError || error instanceof RemoteOperationError) return error;
      if (!connection.alive) return new ConnectivityError(this.server, `the SSH connection was lost while copying ${request.fileName}`, { cause: error });
      return new RemoteOperationError(this.server, label, `SFTP copy to ${partial} failed: ${errorMessage(error)}`, { cause: error });
    };
    const copyStarted = Date.now();
    try {
      await new Promise<void>((resolve, reject) => {
        let done = false;
        const finish = (error: Error | null): void => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          if (error) reject(error);
          else resolve();
        };
        // fastPut cannot be cancelled by itself: ending the SFTP channel ends it with an error.
        const onAbort = (): void => {
          finish(new CancelledError());
          sftp.end();
        };
        const timer = setTimeout(() => {
          finish(new RemoteOperationError(this.server, label, `the copy did not finish within ${Math.round(timeoutMs / 60_000)} min`));
          sftp.end();
        }, timeoutMs);
        signal?.addEventListener('abort', onAbort, { once: true });
        sftp.fastPut(
          request.localPath,
          partial,
          {
            concurrency: this.options.stagingConcurrency ?? DEFAULT_STAGING_CONCURRENCY,
            chunkSize: this.options.stagingChunkBytes ?? DEFAULT_STAGING_CHUNK_BYTES,
          },
          (error) => finish(error ? failure(error) : null),
        );
      });
      await renameIntoPlace(sftp, partial, target);
      const seconds = Math.max(0.001, (Date.now() - copyStarted) / 1000);
      const megabytes = request.sizeBytes / (1024 * 1024);
      this.dependencies.onNote?.(
        this.server,
        `${request.fileName}: copied over SFTP, ${megabytes.toFixed(1)} MB in ${seconds.toFixed(2)} s (${(megabytes / seconds).toFixed(1)} MB/s)`,
      );
    } catch (error) {
      if (connection.alive) await sftpCall((done) => sftp.unlink(partial, done)).catch(() => {});
      throw failure(error);
    }
  }

  async runInstaller(request: InstallRequest): Promise<InstallResult> {
    const startedAt = Date.now();
    const pollSeconds = this.dependencies.installPollSeconds ?? DEFAULT_INSTALL_POLL_SECONDS;
    const graceMs = this.options.installGraceMs ?? DEFAULT_INSTALL_GRACE_MS;
    const reconnectDelays = this.dependencies.reconnectDelaysMs ?? DEFAULT_RECONNECT_DELAYS_MS;
    const args: OperationArguments['install'] = {
      stagingDir: this.options.stagingDir,
      executionId: request.executionId,
      installerPath: request.remotePath,
      parameters: request.parameters,
      timeoutSeconds: request.timeoutMs / 1000,
      waitSeconds: pollSeconds,
      setupLogVersion: request.setupLogVersion,
      timeoutAction: request.timeoutAction ?? 'kill_when_safe',
      startMethod: request.startMethod ?? 'scheduled_task',
      sha256: request.sha256,
    };
    let launched = false;
    let reconnects = 0;
    // Each call attaches to the same execution by its id, so asking again never starts a second installer.
    for (;;) {
      if (launched && request.signal?.aborted) return { kind: 'detached', durationMs: Date.now() - startedAt };
      const remainingMs = request.timeoutMs + graceMs - (Date.now() - startedAt);
      if (remainingMs <= 0) {
        throw new RemoteOperationError(
          this.server,
          'install',
          `no final result from the target within the step timeout plus ${Math.round(graceMs / 1000)} s, although the target stops the installer at the timeout; it may still be running there`,
        );
      }
      // The first call starts the execution (or finds it). It is not aborted: an abort then would leave
      // unknown whether the installer started; starting takes seconds.
      const waitSeconds = Math.min(launched ? pollSeconds : Math.min(pollSeconds, LAUNCH_WAIT_SECONDS), Math.ceil(remainingMs / 1000));
      let result: OperationResult<'install'>;
      try {
        result = await this.invoke(
          'install',
          { ...args, waitSeconds },
          { signal: launched ? request.signal : undefined, timeoutMs: waitSeconds * 1000 + INSTALL_CALL_MARGIN_MS },
        );
        launched = true;
        reconnects = 0;
      } catch (error) {
        if (error instanceof CancelledError && request.signal?.aborted) return { kind: 'detached', durationMs: Date.now() - startedAt };
        // The installer runs on without the connection: reconnect and attach again, a few times.
        if (error instanceof ConnectivityError || error instanceof SshCommandTimeoutError) {
          this.drop();
          const pause = reconnectDelays[reconnects];
          if (pause !== undefined) {
            reconnects++;
            this.dependencies.onNote?.(this.server, `connection lost while ${request.executionId} runs (${error.message}); reconnecting (attempt ${reconnects})`);
            await delay(pause, launched ? request.signal : undefined);
            continue;
          }
          throw new ConnectivityError(
            this.server,
            `the SSH connection broke and ${reconnects} attempts to reconnect failed; last: ${stripServer(this.server, error.message)}`,
            { cause: error },
          );
        }
        throw error;
      }
      const final = installResultFrom(this.server, result);
      if (final) return final;
    }
  }

  async installerStatus(executionId: string, signal?: AbortSignal): Promise<InstallerStatus> {
    return installerStatusFrom(await this.invoke('installerStatus', { stagingDir: this.options.stagingDir, executionId }, { signal }));
  }

  async setFailoverMode(request: { instance: string; group: string; replica: string; mode: 'automatic' | 'manual' }, signal?: AbortSignal): Promise<TopologyChange> {
    return this.invoke('setFailoverMode', request, { signal });
  }

  async failover(request: { instance: string; group: string }, signal?: AbortSignal): Promise<{ alreadyPrimary: boolean }> {
    return this.invoke('failover', request, { signal });
  }

  async moveRole(request: { instance: string; node: string }, signal?: AbortSignal): Promise<TopologyChange> {
    return this.invoke('moveRole', request, { signal });
  }

  async queryTopology(instances: readonly string[], signal?: AbortSignal): Promise<TopologyResult> {
    return topologyFrom(await this.invoke('topology', { instances }, { signal }));
  }

  async queryBuild(instance: string, signal?: AbortSignal): Promise<BuildQuery> {
    const result = await this.invoke('queryBuild', { instance }, { signal });
    if (result.fallbackReason) this.dependencies.onNote?.(this.server, `${instance}: build read from the registry: ${result.fallbackReason}`);
    return buildQueryFrom(result);
  }

  async bootTime(signal?: AbortSignal): Promise<string> {
    return (await this.invoke('hostHealth', { instances: [] }, { signal })).bootTime;
  }

  async requestRestart(request: RestartRequest, signal?: AbortSignal): Promise<void> {
    const result = await this.invoke('restart', { comment: request.comment }, { signal });
    if (result.alreadyUnderWay) this.dependencies.onNote?.(this.server, 'a restart was already under way; none was added');
  }

  async instanceHealth(instances: readonly string[], signal?: AbortSignal): Promise<InstanceHealth[]> {
    const result = await this.invoke('hostHealth', { instances }, { signal });
    return result.instances.map((i) => ({ instance: i.instance, engineRunning: i.engineRunning, answering: i.answering, offlineDatabases: i.offlineDatabases }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const connection = this.connection?.alive ? this.connection : null;
    if (!connection) this.drop();
    this.connection = null;
    this.onClosed(this, connection);
  }
}

function stripServer(server: string, message: string): string {
  return message.startsWith(`${server}: `) ? message.slice(server.length + 2) : message;
}

function sftpCall(start: (done: (error: Error | null | undefined) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => start((error) => (error ? reject(error) : resolve())));
}

/**
 * Moves the finished copy to the installer's name. posix-rename replaces an older file in one step;
 * servers without it (Windows OpenSSH may lack it) get the old file removed, then a plain rename.
 */
async function renameIntoPlace(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  try {
    await sftpCall((done) => sftp.ext_openssh_rename(from, to, done));
    return;
  } catch {
    // Not supported (ssh2 throws at once) or refused: the portable way below.
  }
  await sftpCall((done) => sftp.unlink(to, done)).catch(() => {});
  await sftpCall((done) => sftp.rename(from, to, done));
}
