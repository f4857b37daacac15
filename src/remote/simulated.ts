import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { crashPoint } from '../deploy/crashPoints.js';
import { ConnectivityError, RemoteOperationError } from '../errors.js';
import { labSignatureOf } from '../lab/installerFile.js';
import { labStagingFolderFacts } from '../lab/stagingFolder.js';
import { stagingFolderRefusal } from './stagingFolder.js';
import { LabTopologyError } from '../lab/topology.js';
import { labFailover, labInstanceTopology, labMoveRole, labSetFailoverMode } from '../lab/topologyFacts.js';
import { delay } from './delay.js';
import type { LabExecutionRow, LabWorld } from '../lab/world.js';
import { classifyExitCode } from '../sqlserver/setupExitCodes.js';
import { parseSetupSummary, type SetupSummary } from '../sqlserver/setupSummary.js';
import type {
  BuildQuery,
  DiscoveryResult,
  HostAddress,
  HostSession,
  InstanceHealth,
  InstallerSignature,
  InstallerStatus,
  InstallRequest,
  InstallResult,
  PreflightFacts,
  PreflightRequest,
  RestartRequest,
  ServiceState,
  StageRequest,
  StageResult,
  TopologyChange,
  TopologyResult,
  Transport,
} from './transport.js';
import { asrBlocksWmi, timeoutDecision } from './transport.js';

const GB = 1024 ** 3;
// The lab's system drive has a fixed amount free beyond the staging drive's figure.
const SYSTEM_DRIVE_EXTRA_GB = 20;

/** The `simulated` transport: reaches the lab's hosts in-process, through the shared world. */
export class SimulatedTransport implements Transport {
  readonly name = 'simulated' as const;

  constructor(private readonly world: LabWorld) {}

  async open(address: HostAddress): Promise<HostSession> {
    const host = this.world.host(address.server);
    if (!host) throw new ConnectivityError(address.server, 'no such host in the lab (is it in sql_targets.json with transport "simulated"?)');
    if (!host.reachable) throw new ConnectivityError(address.server, 'connection timed out (host unreachable)');
    return new SimulatedSession(this.world, host.server);
  }

  async dispose(): Promise<void> {}
}

export function serviceNameOf(instance: string): string {
  return instance.toUpperCase() === 'MSSQLSERVER' ? 'MSSQLSERVER' : `MSSQL$${instance}`;
}

export function agentServiceNameOf(instance: string): string {
  return instance.toUpperCase() === 'MSSQLSERVER' ? 'SQLSERVERAGENT' : `SQLAgent$${instance}`;
}

class SimulatedSession implements HostSession {
  private closed = false;

  constructor(
    private readonly world: LabWorld,
    readonly server: string,
  ) {}

  private assertOpen(): void {
    if (this.closed) throw new Error(`${this.server}: session used after close`);
    const host = this.world.host(this.server);
    if (!host?.reachable) throw new ConnectivityError(this.server, 'connection lost');
  }

  /** The engine and Agent services of an instance, as Windows names them; an absent Agent is NotFound. */
  private servicesOf(instance: string): ServiceState[] {
    const hostRunning = this.world.host(this.server)?.services_running === 1;
    const row = this.world.instances(this.server).find((i) => i.instance.toLowerCase() === instance.toLowerCase());
    const engineRunning = hostRunning && row?.engine_state !== 'stopped';
    const agent = row?.agent_state ?? 'running';
    const agentState = agent === 'absent' ? 'NotFound' : hostRunning && agent === 'running' ? 'Running' : 'Stopped';
    return [
      { name: serviceNameOf(instance), state: engineRunning ? 'Running' : 'Stopped' },
      { name: agentServiceNameOf(instance), state: agentState },
    ];
  }

  async discover(): Promise<DiscoveryResult> {
    this.assertOpen();
    return {
      instances: this.world.instances(this.server).map((row) => ({
        instance: row.instance,
        build: row.version,
        edition: row.edition,
        services: this.servicesOf(row.instance),
      })),
      cluster: null,
    };
  }

  async preflight(request: PreflightRequest): Promise<PreflightFacts> {
    this.assertOpen();
    const host = this.world.host(this.server)!;
    return {
      stagingFreeBytes: host.free_disk_gb * GB,
      systemFreeBytes: (host.free_disk_gb + SYSTEM_DRIVE_EXTRA_GB) * GB,
      pendingReboot: host.pending_reboot ? ['Component Based Servicing\\RebootPending'] : [],
      installerBusy: host.installer_busy === 1,
      services: request.instances.flatMap((i) => this.servicesOf(i)),
      stagingFolder: labStagingFolderFacts(this.world, this.server, request.stagingDir),
      asrWmiRule: host.asr_wmi_rule,
    };
  }

  async stage(request: StageRequest): Promise<StageResult> {
    this.assertOpen();
    // As the stagedFile operation: nothing is copied into a folder someone else could swap files in.
    const folder = labStagingFolderFacts(this.world, this.server, request.stagingDir);
    if (folder.problem) throw new RemoteOperationError(this.server, 'stagedFile', stagingFolderRefusal(folder), { remoteType: 'StagingFolderUnsafe' });
    const remotePath = path.win32.join(request.stagingDir, request.fileName);
    const existing = this.world.file(this.server, remotePath);
    if (existing && existing.sha256 === request.sha256) return { remotePath, sha256: existing.sha256, alreadyPresent: true };
    // Read synchronously, like the rest of the lab's work (the bytes go into world.db in the same
    // tick): an asynchronous read made a host that was ready to start wait behind every other
    // host's event-loop work, which spread out the schedule the engine set.
    const content = readFileSync(request.localPath);
    const sha256 = this.world.stageFile(this.server, remotePath, content);
    return { remotePath, sha256, alreadyPresent: false };
  }

  async runInstaller(request: InstallRequest): Promise<InstallResult> {
    this.assertOpen();
    const started = Date.now();
    const deadline = started + request.timeoutMs;
    const staged = this.world.file(this.server, request.remotePath);
    if (request.sha256 && staged && staged.sha256 !== request.sha256.toLowerCase() && !this.world.execution(this.server, request.executionId)) {
      throw new RemoteOperationError(
        this.server,
        'install',
        `the staged installer "${request.remotePath}" has SHA-256 ${staged.sha256}, expected ${request.sha256}: it changed after staging and was not started (StagedFileChanged)`,
        { remoteType: 'StagedFileChanged' },
      );
    }
    const startMethod = request.startMethod ?? 'scheduled_task';
    if (startMethod === 'wmi' && asrBlocksWmi(this.world.host(this.server)!.asr_wmi_rule) && !this.world.execution(this.server, request.executionId)) {
      // Defender stops the process Win32_Process.Create would start: nothing runs.
      throw new RemoteOperationError(
        this.server,
        'install',
        `the installer "${request.remotePath}" could not be started: Win32_Process.Create was blocked by Defender's attack surface reduction rule for PSExec and WMI commands (InstallerStartFailed)`,
        { remoteType: 'InstallerStartFailed' },
      );
    }
    if (!this.world.execution(this.server, request.executionId)) {
      // As the install operation: what executions that are over left is removed, then the wrapper
      // extracts the package (/x:) into its own folder under the staging root before setup starts.
      this.world.sweepExtractions(this.server);
      this.world.extract(this.server, request.executionId, path.win32.join(path.win32.dirname(request.remotePath), 'extract', request.executionId));
      // The lab's target side lives in this process: dying here stands for a wrapper that died while extracting.
      crashPoint('setup-extracted');
    }
    let execution = this.world.startExecution(this.server, request.executionId, request.remotePath, request.parameters, startMethod);
    const startedAtMs = Date.parse(execution.started_at);
    for (;;) {
      execution = this.world.execution(this.server, request.executionId)!;
      if (execution.finished_at !== null) {
        const durationMs = Date.parse(execution.finished_at) - startedAtMs;
        if (execution.exit_code === null) return { kind: 'timed_out', durationMs };
        return { kind: 'exited', exitCode: execution.exit_code, durationMs, ...summaryOf(execution) };
      }
      const now = Date.now();
      if (request.signal?.aborted) return { kind: 'detached', durationMs: now - startedAtMs };
      if (now >= deadline) {
        const decision = timeoutDecision(request.timeoutAction ?? 'kill_when_safe', this.world.msiTransactionUnderWay(this.server));
        if (!decision.stop) return { kind: 'left_running', durationMs: now - startedAtMs, reason: decision.reason };
        this.world.killExecution(this.server, request.executionId);
        return { kind: 'timed_out', durationMs: now - startedAtMs };
      }
      const wakeAt = Math.min(deadline, execution.planned_finish_ms ?? deadline);
      await delay(Math.max(1, wakeAt - now), request.signal);
    }
  }

  async installerStatus(executionId: string): Promise<InstallerStatus> {
    this.assertOpen();
    this.world.sweepExtractions(this.server);
    const execution = this.world.execution(this.server, executionId);
    if (!execution) return { state: 'not_started' };
    if (execution.finished_at === null) return { state: 'running', startedAt: execution.started_at };
    return { state: 'finished', startedAt: execution.started_at, finishedAt: execution.finished_at, exitCode: execution.exit_code };
  }

  async installerSignature(remotePath: string): Promise<InstallerSignature | null> {
    this.assertOpen();
    const staged = this.world.file(this.server, remotePath);
    if (!staged) return null;
    return labSignatureOf(staged.content);
  }

  async queryBuild(instance: string): Promise<BuildQuery> {
    this.assertOpen();
    const row = this.world.instances(this.server).find((i) => i.instance.toLowerCase() === instance.toLowerCase());
    if (!row) throw new RemoteOperationError(this.server, 'queryBuild', `SQL Server instance "${instance}" is not installed on this host`);
    // A stopped engine cannot answer SERVERPROPERTY: its build comes from the registry and sqlservr.exe.
    const running = this.world.host(this.server)?.services_running === 1 && row.engine_state === 'running';
    return { build: row.version, edition: row.edition, source: running ? 'sql' : 'registry' };
  }

  async setFailoverMode(request: { instance: string; group: string; replica: string; mode: 'automatic' | 'manual' }): Promise<TopologyChange> {
    this.assertOpen();
    return this.asOperation('setFailoverMode', () => labSetFailoverMode(this.world, this.server, request));
  }

  async failover(request: { instance: string; group: string }): Promise<{ alreadyPrimary: boolean }> {
    this.assertOpen();
    return this.asOperation('failover', () => labFailover(this.world, this.server, request));
  }

  async moveRole(request: { instance: string; node: string }): Promise<TopologyChange> {
    this.assertOpen();
    return this.asOperation('moveRole', () => labMoveRole(this.world, this.server, request));
  }

  /** What SQL Server or the cluster refuses is an operation error naming the server, as over WinRM. */
  private asOperation<T>(operation: string, change: () => T): T {
    try {
      return change();
    } catch (error) {
      if (error instanceof LabTopologyError) throw new RemoteOperationError(this.server, operation, error.message, { cause: error });
      throw error;
    }
  }

  async queryTopology(instances: readonly string[]): Promise<TopologyResult> {
    this.assertOpen();
    return { instances: instances.map((instance) => labInstanceTopology(this.world, this.server, instance)) };
  }

  async bootTime(): Promise<string> {
    this.assertOpen();
    return this.world.bootTime(this.server)!;
  }

  async requestRestart(request: RestartRequest): Promise<void> {
    this.assertOpen();
    this.world.requestRestart(this.server, request.comment);
  }

  async instanceHealth(instances: readonly string[]): Promise<InstanceHealth[]> {
    this.assertOpen();
    const rows = this.world.instances(this.server);
    const servicesUp = this.world.host(this.server)?.services_running === 1;
    return instances.map((instance) => {
      const row = rows.find((r) => r.instance.toLowerCase() === instance.toLowerCase());
      const running = row !== undefined && servicesUp && row.engine_state === 'running';
      // The lab's databases are online whenever their engine runs.
      return { instance, engineRunning: running, answering: running, offlineDatabases: [] };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A Summary.txt tail like the one SQL setup writes, so the lab's results read like real ones. */
function summaryOf(execution: LabExecutionRow): { summaryTail: string; summaryPath: string; summary: SetupSummary | null } {
  const code = execution.exit_code ?? 0;
  const meaning = classifyExitCode(code);
  // As setup words it: anything but 0, 3010 and 1641 is "Failed", "nothing to patch" included.
  const result = code === 0 ? 'Passed' : meaning.outcome === 'success_restart' ? 'Passed but reboot required, see logs for details' : 'Failed: see details below';
  const hash = createHash('sha1').update(execution.execution_id).digest('hex').slice(0, 8);
  const summaryTail = ['Overall summary:', `  Final result:                  ${result}`, `  Exit code (Decimal):           ${code}`, `  Exit message:                  ${meaning.meaning}`].join('\n');
  return {
    summaryPath: `C:\\Program Files\\Microsoft SQL Server\\Setup Bootstrap\\Log\\Summary_${execution.server}_${hash}.txt`,
    summaryTail,
    summary: parseSetupSummary(summaryTail),
  };
}

