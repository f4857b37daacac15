import { isUncPath } from '../config/paths.js';
import { CancelledError, ConnectivityError, RemoteOperationError } from '../errors.js';
import { defaultPowerShellPath } from './powershell/localPowerShell.js';
import { type OperationArguments, type OperationResult, parseOperationOutput } from './powershell/operationOutput.js';
import { buildOperationScript, encodeOperationArguments, type OperationName } from './powershell/operationScript.js';
import { type RemotingAuthentication, SessionHostProcess } from './powershell/sessionHostProcess.js';
import { delay } from './delay.js';
import { buildQueryFrom, discoveryFrom, installerStatusFrom, installResultFrom, preflightFactsFrom, topologyFrom } from './powershell/operationResults.js';
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
 * The `winrm` transport: PowerShell Remoting from the admin machine. For each host, one local
 * PowerShell process (powershell.exe on Windows, pwsh elsewhere) holds one PSSession that serves all
 * of that host's operations: `Invoke-Command -Session` runs the target-side operations (src/remote/
 * powershell/*.ps1), `Copy-Item -ToSession` stages installers. See docs/winrm.md.
 */

export const WINRM_AUTHENTICATIONS = ['kerberos', 'negotiate', 'credssp'] as const;
export type WinRmAuthentication = (typeof WINRM_AUTHENTICATIONS)[number];

export const WINRM_STAGING_SOURCES = ['copy', 'unc'] as const;
export type WinRmStagingSource = (typeof WINRM_STAGING_SOURCES)[number];

/** What audit_config.json `hotfix.winrm` (and `hotfix.staging_dir`) configure. */
export interface WinRmOptions {
  /** Local PowerShell that drives remoting (`powershell_path`); default powershell.exe on Windows, pwsh elsewhere. */
  readonly powershellPath?: string | undefined;
  /** Connect to the HTTPS listener (`use_ssl`); port 5986 unless `port` says otherwise. */
  readonly useSsl?: boolean | undefined;
  /** WinRM port for every target (`port`); a target's own port wins; default 5985, or 5986 with useSsl. */
  readonly port?: number | undefined;
  /** `authentication`; default kerberos. CredSSP needs a named credential. */
  readonly authentication?: WinRmAuthentication | undefined;
  /**
   * `staging_source`: `copy` (default) sends installers with Copy-Item -ToSession; `unc` has the target
   * read UNC paths itself (the double hop: see docs/winrm.md). Local paths are always copied.
   */
  readonly stagingSource?: WinRmStagingSource | undefined;
  /** `skip_ca_check`: accept an HTTPS listener whose certificate no trusted CA issued. */
  readonly skipCaCheck?: boolean | undefined;
  /** Accept an HTTPS certificate whose name differs from the host name. */
  readonly skipCnCheck?: boolean | undefined;
  /** `hotfix.staging_dir`: where installers and execution records live on the targets. */
  readonly stagingDir?: string | undefined;
  /** Time allowed to open a session. Default 30 s. */
  readonly connectTimeoutMs?: number | undefined;
  /** Time allowed for one operation other than staging and installing. Default 5 minutes. */
  readonly operationTimeoutMs?: number | undefined;
  /** Time allowed to copy one installer. Default 60 minutes. */
  readonly copyTimeoutMs?: number | undefined;
  /**
   * Run the operations in the local PowerShell itself, with no PSSession: for patching the admin
   * machine, and for exercising the transport where no Windows host exists.
   */
  readonly localExecution?: boolean | undefined;
}

export interface WinRmCredential {
  readonly userName: string;
  readonly password: string;
}

export interface WinRmDependencies {
  /** Turns a credential name from sql_targets.json into the account and its secret. */
  readonly resolveCredential?: ((name: string) => Promise<WinRmCredential>) | undefined;
  /** Surfaces files to load instead of Surfaces.Windows.ps1 (a test bed's simulated Windows). */
  readonly surfaces?: readonly string[] | undefined;
  /** Receives facts worth a log line, e.g. a build read from the registry because the service was down. */
  readonly onNote?: ((server: string, message: string) => void) | undefined;
  /** Environment of the local PowerShell processes. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** How long one install call waits on the target before the orchestrator asks again. Default 30 s. */
  readonly installPollSeconds?: number | undefined;
  /** Pause before reconnecting when the session breaks while an installer runs. Default 5 s. */
  readonly reconnectDelayMs?: number | undefined;
}

export const DEFAULT_STAGING_DIR = 'C:\\ProgramData\\AutoDBAudit\\staging';
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
const DEFAULT_OPERATION_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_COPY_TIMEOUT_MS = 60 * 60_000;
const DEFAULT_INSTALL_POLL_SECONDS = 30;
const DEFAULT_RECONNECT_DELAY_MS = 5_000;
// Beyond its own wait, an install call may start PowerShell for the wrapper and stop a process tree.
const INSTALL_CALL_MARGIN_MS = 120_000;
// A session that breaks while an installer runs is reopened this many times before the step gives up.
const INSTALL_RECONNECT_ATTEMPTS = 3;
const EXECUTION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const AUTHENTICATION_NAMES: Readonly<Record<WinRmAuthentication, RemotingAuthentication>> = {
  kerberos: 'Kerberos',
  negotiate: 'Negotiate',
  credssp: 'Credssp',
};

export class WinRmTransport implements Transport {
  readonly name = 'winrm' as const;
  private readonly sessions = new Set<WinRmHostSession>();

  constructor(
    private readonly options: WinRmOptions = {},
    private readonly dependencies: WinRmDependencies = {},
  ) {}

  async open(address: HostAddress, signal?: AbortSignal): Promise<HostSession> {
    const connector = (connectSignal?: AbortSignal): Promise<SessionHostProcess> =>
      connectHost(address, this.options, this.dependencies, connectSignal);
    const host = await connector(signal);
    const session = new WinRmHostSession(address.server, host, connector, this.options, this.dependencies, () =>
      this.sessions.delete(session),
    );
    try {
      // Proves that operations run (a session can open and still refuse to run scripts).
      await session.probe(signal);
    } catch (error) {
      await session.close();
      if (error instanceof CancelledError || error instanceof ConnectivityError) throw error;
      throw new ConnectivityError(address.server, `the session opened but cannot run operations: ${detailOf(error, address.server)}`, {
        cause: error,
      });
    }
    this.sessions.add(session);
    return session;
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.sessions].map((session) => session.close()));
    this.sessions.clear();
  }
}

/** An error's message without the leading `SERVER: ` that the error classes add. */
function detailOf(error: unknown, server: string): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith(`${server}: `) ? message.slice(server.length + 2) : message;
}

function defaultPort(options: WinRmOptions): number {
  return options.useSsl ? 5986 : 5985;
}

async function connectHost(
  address: HostAddress,
  options: WinRmOptions,
  dependencies: WinRmDependencies,
  signal?: AbortSignal,
): Promise<SessionHostProcess> {
  const { server } = address;
  const authentication = options.authentication ?? 'kerberos';
  let credential: WinRmCredential | null = null;
  if (address.credential !== undefined) {
    if (!dependencies.resolveCredential) {
      throw new ConnectivityError(server, `credential "${address.credential}" is named but no credential resolver was configured`);
    }
    credential = await dependencies.resolveCredential(address.credential);
  }
  if (authentication === 'credssp' && credential === null && !options.localExecution) {
    throw new ConnectivityError(server, 'CredSSP authentication needs a named credential (the target delegates it onwards)');
  }
  const host = await SessionHostProcess.start({
    executable: options.powershellPath ?? defaultPowerShellPath(),
    server,
    env: dependencies.env,
  });
  const port = address.port ?? options.port;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  // New-PSSession has its own open timeout; this one catches a PowerShell that hangs regardless.
  const answerTimeoutMs = connectTimeoutMs + 30_000;
  try {
    const answer = await host.request(
      {
        kind: 'connect',
        computerName: server,
        port,
        useSsl: options.useSsl ?? false,
        authentication: AUTHENTICATION_NAMES[authentication],
        skipCaCheck: options.skipCaCheck ?? false,
        skipCnCheck: options.skipCnCheck ?? false,
        openTimeoutMs: connectTimeoutMs,
        credential,
        local: options.localExecution ?? false,
      },
      { label: 'connect', timeoutMs: answerTimeoutMs, signal },
    );
    if (!answer.ok) {
      const where = `port ${port ?? defaultPort(options)}${options.useSsl ? ' (HTTPS)' : ''}, ${authentication}`;
      throw new ConnectivityError(
        server,
        `cannot open a PowerShell Remoting session (${where}): ${answer.error.message.replace(/[.\s]+$/, '')}. Check that WinRM is enabled on the host (Enable-PSRemoting -Force), that the port is open, and that the account is an administrator there; see docs/winrm.md`,
      );
    }
    return host;
  } catch (error) {
    host.kill();
    if (error instanceof RemoteOperationError) {
      throw new ConnectivityError(server, `no PowerShell Remoting session within ${answerTimeoutMs / 1000} s`, { cause: error });
    }
    throw error;
  }
}

/** One host's session: every operation of that host goes through the same PSSession, one at a time. */
export class WinRmHostSession implements HostSession {
  private host: SessionHostProcess | null;
  private reconnecting: Promise<SessionHostProcess> | null = null;
  private closed = false;
  /** PowerShell on the target as the probe reported it (`5.1.17763.1`). */
  powershellVersion: string | null = null;

  constructor(
    readonly server: string,
    host: SessionHostProcess,
    private readonly connector: (signal?: AbortSignal) => Promise<SessionHostProcess>,
    private readonly options: WinRmOptions,
    private readonly dependencies: WinRmDependencies,
    private readonly onClosed: () => void,
  ) {
    this.host = host;
  }

  /** The local PowerShell process that currently holds this host's session (undefined when none does). */
  get processId(): number | undefined {
    return this.host?.alive ? this.host.processId : undefined;
  }

  private get stagingDir(): string {
    return this.options.stagingDir ?? DEFAULT_STAGING_DIR;
  }

  /** The live session process, reopened when an earlier timeout or abort had to stop it. */
  private async connection(signal?: AbortSignal): Promise<SessionHostProcess> {
    if (this.closed) throw new ConnectivityError(this.server, 'the session was closed');
    if (this.host?.alive) return this.host;
    this.host = null;
    this.reconnecting ??= this.connector(signal).finally(() => {
      this.reconnecting = null;
    });
    this.host = await this.reconnecting;
    return this.host;
  }

  /** Runs one operation on the target and returns its checked result. */
  async invoke<N extends OperationName>(
    operation: N,
    args: OperationArguments[N],
    options: { readonly timeoutMs?: number | undefined; readonly signal?: AbortSignal | undefined } = {},
  ): Promise<OperationResult<N>> {
    const host = await this.connection(options.signal);
    const answer = await host.request(
      {
        kind: 'invoke',
        scriptBase64: Buffer.from(buildOperationScript(operation, { surfaces: this.dependencies.surfaces }), 'utf8').toString('base64'),
        argumentsBase64: encodeOperationArguments(args),
      },
      {
        label: operation,
        timeoutMs: options.timeoutMs ?? this.options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS,
        signal: options.signal,
      },
    );
    if (!answer.ok) throw this.requestFailure(host, operation, answer.error.message, answer.sessionState);
    return parseOperationOutput(operation, answer.output ?? '', this.server);
  }

  /** Invoke-Command or Copy-Item itself failed: a broken session is a connectivity error. */
  private requestFailure(host: SessionHostProcess, operation: string, message: string, sessionState: string | null): Error {
    if (sessionState !== null && sessionState !== 'Opened') {
      host.kill();
      return new ConnectivityError(this.server, `the PowerShell Remoting session broke during ${operation} (${sessionState}): ${message}`);
    }
    return new RemoteOperationError(this.server, operation, message);
  }

  async probe(signal?: AbortSignal): Promise<OperationResult<'probe'>> {
    const result = await this.invoke('probe', {}, { signal, timeoutMs: this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS });
    this.powershellVersion = result.powershellVersion;
    return result;
  }

  async discover(signal?: AbortSignal): Promise<DiscoveryResult> {
    return discoveryFrom(await this.invoke('discover', {}, { signal }));
  }

  /** The pre-flight facts plus, when an installer path is given, its Authenticode status and signer. */
  async preflightDetails(
    request: PreflightRequest & { readonly installerPath?: string | undefined },
    signal?: AbortSignal,
  ): Promise<OperationResult<'preflight'>> {
    return this.invoke(
      'preflight',
      {
        stagingDir: request.stagingDir,
        instances: request.instances,
        ignorePendingFileRename: request.ignorePendingFileRename,
        installerPath: request.installerPath,
      },
      { signal },
    );
  }

  async installerSignature(remotePath: string, stagingDir: string, signal?: AbortSignal): Promise<InstallerSignature | null> {
    const result = await this.preflightDetails({ stagingDir, instances: [], ignorePendingFileRename: true, installerPath: remotePath }, signal);
    return result.authenticode ? { status: result.authenticode.status, signer: result.authenticode.signer } : null;
  }

  async preflight(request: PreflightRequest, signal?: AbortSignal): Promise<PreflightFacts> {
    return preflightFactsFrom(await this.preflightDetails(request, signal));
  }

  async stage(request: StageRequest, signal?: AbortSignal): Promise<StageResult> {
    const expected = request.sha256.toLowerCase();
    const check = (createDirectory: boolean): Promise<OperationResult<'stagedFile'>> =>
      this.invoke(
        'stagedFile',
        { stagingDir: request.stagingDir, fileName: request.fileName, expectedSizeBytes: request.sizeBytes, createDirectory },
        // Hashing a large installer on a slow disk takes minutes.
        { signal, timeoutMs: this.options.copyTimeoutMs ?? DEFAULT_COPY_TIMEOUT_MS },
      );
    const before = await check(true);
    if (before.exists && before.sha256 === expected) return { remotePath: before.path, sha256: expected, alreadyPresent: true };

    const copyTimeoutMs = this.options.copyTimeoutMs ?? DEFAULT_COPY_TIMEOUT_MS;
    // `copy`: this machine reads the installer (a UNC path too, as the operator: one hop) and sends the
    // bytes through the session. `unc`: the target reads the share itself, which saves pushing every
    // installer through WinRM but is a second hop: a Kerberos session cannot pass the operator's
    // identity on, so it needs CredSSP or Kerberos delegation to the file server (docs/winrm.md).
    if (this.options.stagingSource === 'unc' && isUncPath(request.localPath)) {
      await this.invoke(
        'copyFromShare',
        { sourcePath: request.localPath, stagingDir: request.stagingDir, fileName: request.fileName },
        { signal, timeoutMs: copyTimeoutMs },
      );
    } else {
      const host = await this.connection(signal);
      const answer = await host.request(
        { kind: 'copy', localPath: request.localPath, remotePath: before.path },
        { label: `copy ${request.fileName}`, timeoutMs: copyTimeoutMs, signal },
      );
      if (!answer.ok) throw this.requestFailure(host, `copy ${request.fileName}`, answer.error.message, answer.sessionState);
    }

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

  async runInstaller(request: InstallRequest): Promise<InstallResult> {
    if (!EXECUTION_ID_PATTERN.test(request.executionId)) {
      throw new RemoteOperationError(this.server, 'install', `executionId "${request.executionId}" must be letters, digits, ".", "_" or "-"`);
    }
    const startedAt = Date.now();
    const waitSeconds = this.dependencies.installPollSeconds ?? DEFAULT_INSTALL_POLL_SECONDS;
    const args: OperationArguments['install'] = {
      stagingDir: this.stagingDir,
      executionId: request.executionId,
      installerPath: request.remotePath,
      parameters: request.parameters,
      timeoutSeconds: request.timeoutMs / 1000,
      waitSeconds,
      setupLogVersion: request.setupLogVersion,
      timeoutAction: request.timeoutAction ?? 'kill_when_safe',
      startMethod: request.startMethod ?? 'scheduled_task',
      sha256: request.sha256,
    };
    let failedAttempts = 0;
    let launched = false;
    // Each call attaches to the same execution by its id, so asking again never starts a second installer.
    for (;;) {
      if (launched && request.signal?.aborted) return { kind: 'detached', durationMs: Date.now() - startedAt };
      // The first call starts the execution (or finds it) and answers at once. It is not aborted: an
      // abort then would leave unknown whether the installer started; starting takes seconds.
      const callWaitSeconds = launched ? waitSeconds : 0;
      let result: OperationResult<'install'>;
      try {
        result = await this.invoke(
          'install',
          { ...args, waitSeconds: callWaitSeconds },
          { signal: launched ? request.signal : undefined, timeoutMs: callWaitSeconds * 1000 + INSTALL_CALL_MARGIN_MS },
        );
        launched = true;
        failedAttempts = 0;
      } catch (error) {
        if (error instanceof CancelledError && request.signal?.aborted) return { kind: 'detached', durationMs: Date.now() - startedAt };
        // The installer runs on without the session; reopen it and attach again.
        if (error instanceof ConnectivityError && failedAttempts < INSTALL_RECONNECT_ATTEMPTS) {
          failedAttempts++;
          this.dependencies.onNote?.(this.server, `session lost while ${request.executionId} runs (${error.message}); reconnecting`);
          await delay(this.dependencies.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY_MS, launched ? request.signal : undefined);
          continue;
        }
        throw error;
      }
      const finished = installResultFrom(this.server, result);
      if (finished) return finished;
    }
  }

  async installerStatus(executionId: string, signal?: AbortSignal): Promise<InstallerStatus> {
    return installerStatusFrom(await this.invoke('installerStatus', { stagingDir: this.stagingDir, executionId }, { signal }));
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
    const host = this.host;
    this.host = null;
    await host?.close();
    this.onClosed();
  }
}
