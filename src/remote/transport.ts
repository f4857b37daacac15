import type { SetupSummary } from '../sqlserver/setupSummary.js';

/**
 * The seam between the deployment engine and the servers it patches. One implementation per way of
 * reaching a server (winrm, ssh, simulated); every implementation passes the contract suite in
 * test/remote/transportContract.ts.
 *
 * A Transport opens one HostSession per host; the session is used for all of that host's operations
 * and closed when the host is done.
 */

/** How the engine names a host and how to reach it: resolved from the targets file and audit_config. */
export interface HostAddress {
  /** Host name or address as written in sql_targets.json (`PROD-SQL1`). */
  readonly server: string;
  /** Port for the transport (WinRM 5985/5986, SSH 22) when not the transport's default. */
  readonly port?: number | undefined;
  /** Name of a credential in audit_config.json `hotfix.credentials`, or undefined for the current identity. */
  readonly credential?: string | undefined;
}

export interface ServiceState {
  /** Windows service name, e.g. `MSSQLSERVER`, `MSSQL$SALES`, `SQLSERVERAGENT`. */
  readonly name: string;
  /** `Running`, `Stopped`, … as Windows reports it. */
  readonly state: string;
}

export interface DiscoveredInstance {
  /** Instance name; `MSSQLSERVER` for the default instance. */
  readonly instance: string;
  /** The build as the target reported it (not yet parsed: a bad value becomes `invalid_version`). */
  readonly build: string | null;
  readonly edition: string | null;
  /** Service pack / CU level text when known (`RTM`, `SP3`, `CU16`). */
  readonly patchLevel?: string | null | undefined;
  readonly services: readonly ServiceState[];
}

export interface DiscoveryResult {
  readonly instances: readonly DiscoveredInstance[];
  /** Failover cluster name when the host is a cluster node (the tool does not sequence nodes). */
  readonly cluster?: string | null | undefined;
}

export interface PreflightRequest {
  /** Folder on the target where installers are staged (a Windows path). */
  readonly stagingDir: string;
  /** Instances on this host that the plan will patch; their services are checked. */
  readonly instances: readonly string[];
  /** Ignore PendingFileRenameOperations, which many systems carry permanently. */
  readonly ignorePendingFileRename: boolean;
}

export interface PreflightFacts {
  /** Free bytes on the drive that holds the staging folder. */
  readonly stagingFreeBytes: number;
  /** Free bytes on the system drive (setup extracts and caches there). */
  readonly systemFreeBytes: number;
  /** Reasons a reboot is pending (empty when none). */
  readonly pendingReboot: readonly string[];
  /** Windows Installer is busy with another installation. */
  readonly installerBusy: boolean;
  /** Services of the instances in the request, with their state. */
  readonly services: readonly ServiceState[];
  /** The staging folder: created by this pre-flight (protected), or found and checked. */
  readonly stagingFolder: StagingFolderFacts;
  /**
   * Defender's ASR rule "Block process creations originating from PSExec and WMI commands": `block`,
   * `warn`, `audit` or `off`; null when the host does not report it (not configured, no Defender).
   */
  readonly asrWmiRule: string | null;
}

/**
 * How the target starts setup's wrapper: `scheduled_task` (a one-shot task running as SYSTEM at the
 * highest run level) or `wmi` (Win32_Process.Create, as the connected account), the fallback for
 * hosts where scheduled tasks are not allowed. See audit_config.json `installer_start`.
 */
export const INSTALLER_START_METHODS = ['scheduled_task', 'wmi'] as const;
export type InstallerStartMethod = (typeof INSTALLER_START_METHODS)[number];

/** Whether the ASR rule's mode stops processes created through WMI (warn does too: no one is there to allow it). */
export function asrBlocksWmi(mode: string | null): boolean {
  return mode === 'block' || mode === 'warn';
}

/**
 * The staging folder as pre-flight left it. The target creates it with an ACL that only SYSTEM and
 * Administrators can write; one that was already there is checked for its owner and its writers.
 */
export interface StagingFolderFacts {
  readonly path: string;
  /** Created by this pre-flight. */
  readonly created: boolean;
  /** Its owner as the target names it (`BUILTIN\Administrators (S-1-5-32-544)`). */
  readonly owner: string;
  /** Why installers must not run from it (another owner, other writers); null when it is safe. */
  readonly problem: string | null;
}

export interface StageRequest {
  /** The installer on the admin machine (local or UNC path). */
  readonly localPath: string;
  /** File name on the target. */
  readonly fileName: string;
  /** SHA-256 of the local file, lower-case hex: the staged copy must match it. */
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly stagingDir: string;
}

export interface StageResult {
  /** Where the installer now lies on the target. */
  readonly remotePath: string;
  /** SHA-256 the target computed of its copy. */
  readonly sha256: string;
  /** True when the file was already there with the same hash and nothing was copied. */
  readonly alreadyPresent: boolean;
}

export interface InstallRequest {
  /**
   * Names this execution on the target, so that a later process can ask what became of it
   * (see installerStatus). Starting twice with one id never runs the installer twice: the second
   * call attaches to the first execution.
   */
  readonly executionId: string;
  readonly remotePath: string;
  /** The mapping's `parameters`, passed to the installer as they are. */
  readonly parameters: string;
  /** Real time allowed; on expiry the installer's process tree is stopped and the result is timedOut. */
  readonly timeoutMs: number;
  /** Aborting stops the wait only: the installer goes on on the target (result `detached`). */
  readonly signal?: AbortSignal | undefined;
  /** Major version of the family being patched, for the Setup Bootstrap log folder (e.g. 150). */
  readonly setupLogVersion?: string | undefined;
  /** What the timeout does (default `kill_when_safe`); see TIMEOUT_ACTIONS. */
  readonly timeoutAction?: TimeoutAction | undefined;
  /**
   * SHA-256 the staged installer must still have when it is started: a file changed since staging is
   * refused (RemoteOperationError with remoteType `StagedFileChanged`) and never run.
   */
  readonly sha256?: string | undefined;
  /** How the target starts the wrapper (default `scheduled_task`). */
  readonly startMethod?: InstallerStartMethod | undefined;
}

/**
 * What a step timeout does to the installer: `kill_when_safe` stops its process tree only when no
 * Windows Installer transaction is under way (killing one can leave an instance half-patched), and
 * otherwise leaves it running; `leave_running` never stops it; `kill` always does.
 */
export const TIMEOUT_ACTIONS = ['kill_when_safe', 'leave_running', 'kill'] as const;
export type TimeoutAction = (typeof TIMEOUT_ACTIONS)[number];

/**
 * Whether a timed-out installer is stopped, and why not when it is left running. `insideMsiTransaction`
 * is what the host says: Windows Installer's `Global\_MSIExecute` mutex is held.
 */
export function timeoutDecision(action: TimeoutAction, insideMsiTransaction: boolean): { readonly stop: true } | { readonly stop: false; readonly reason: string } {
  switch (action) {
    case 'kill':
      return { stop: true };
    case 'leave_running':
      return { stop: false, reason: 'timeout_action is leave_running' };
    case 'kill_when_safe':
      return insideMsiTransaction
        ? { stop: false, reason: 'it is inside a Windows Installer transaction (Global\\_MSIExecute is held), where stopping it could leave an instance half-patched' }
        : { stop: true };
    default: {
      const never: never = action;
      throw new Error(`unknown timeout action ${String(never)}`);
    }
  }
}

export type InstallResult =
  | {
      readonly kind: 'exited';
      readonly exitCode: number;
      readonly durationMs: number;
      /** The tail of setup's newest Summary.txt, when the target has one. */
      readonly summaryTail?: string | undefined;
      /** Where that Summary.txt lies on the target, for the operator's message. */
      readonly summaryPath?: string | undefined;
      /** Setup's own verdict from that Summary.txt's overall summary, when it has one. */
      readonly summary?: SetupSummary | null | undefined;
    }
  | { readonly kind: 'timed_out'; readonly durationMs: number; readonly summaryTail?: string | undefined }
  /** The timeout passed and the installer was left running (see TimeoutAction); `reason` says why. */
  | { readonly kind: 'left_running'; readonly durationMs: number; readonly reason: string }
  /** The wait was aborted (second Ctrl+C); the installer may still be running on the target. */
  | { readonly kind: 'detached'; readonly durationMs: number };

export type InstallerStatus =
  | { readonly state: 'not_started' }
  | { readonly state: 'running'; readonly startedAt: string }
  | {
      readonly state: 'finished';
      readonly startedAt: string;
      readonly finishedAt: string;
      /** Null when the process was stopped (timeout) and left no exit code. */
      readonly exitCode: number | null;
    };

export interface BuildQuery {
  readonly build: string | null;
  readonly edition: string | null;
  readonly productLevel?: string | null | undefined;
  readonly productUpdateLevel?: string | null | undefined;
  /** `sql` when read from SERVERPROPERTY, `registry` when the service was down. */
  readonly source: 'sql' | 'registry';
}

/** A staged installer's Authenticode signature, as Windows reports it. */
export interface InstallerSignature {
  /** `Valid`, `NotSigned`, `HashMismatch`, `UnknownError`, … (System.Management.Automation.SignatureStatus). */
  readonly status: string;
  /** The signing certificate's subject, when signed. */
  readonly signer: string | null;
}

/** One replica of an availability group, as one of the group's instances sees it. */
export interface AvailabilityReplicaFacts {
  /** As sys.availability_replicas names it: `HOST` for a default instance, `HOST\INSTANCE`, or an FCI's virtual name. */
  readonly replicaServerName: string;
  /** `synchronous_commit`, `asynchronous_commit` (or `configuration_only`), lower-case. */
  readonly availabilityMode: string | null;
  /** `automatic`, `manual` (or `external`), lower-case. */
  readonly failoverMode: string | null;
  /** True for the replica the answering instance hosts. */
  readonly isLocal: boolean;
  /** `primary`, `secondary`, `resolving`; null when the answering instance cannot see it (a secondary sees only itself). */
  readonly role: string | null;
  readonly connected: boolean | null;
  /** The replica's databases taken together: `SYNCHRONIZED`, `SYNCHRONIZING` or `NOT SYNCHRONIZING`; null when not visible. */
  readonly synchronizationState: string | null;
  /** Every database is_failover_ready; null when not visible. */
  readonly failoverReady: boolean | null;
}

export interface AvailabilityGroupFacts {
  readonly name: string;
  readonly replicas: readonly AvailabilityReplicaFacts[];
}

/** A failover cluster instance's possible owners and the node running it now. */
export interface FailoverClusterFacts {
  readonly nodes: readonly string[];
  readonly owner: string;
}

/** What one instance says of its place in availability groups and failover clusters. */
export interface InstanceTopology {
  readonly instance: string;
  /** Why it could not be read (service down, no VIEW SERVER STATE); null when read. */
  readonly error: string | null;
  readonly availabilityGroups: readonly AvailabilityGroupFacts[];
  /** Null when the instance is not a failover cluster instance. */
  readonly failoverCluster: FailoverClusterFacts | null;
}

export interface TopologyResult {
  readonly instances: readonly InstanceTopology[];
}

/** A change of one availability group's or FCI's state, as the target reports it afterwards. */
export interface TopologyChange {
  readonly previous: string;
  readonly current: string;
  /** False when it was already so and nothing was done. */
  readonly changed: boolean;
}

export interface RestartRequest {
  /** The comment Windows records with the restart (event 1074) and shows to logged-on users: names the run. */
  readonly comment: string;
}

/** One instance after a restart: is it back in service? */
export interface InstanceHealth {
  readonly instance: string;
  /** The database engine service is running. */
  readonly engineRunning: boolean;
  /** The engine answers a query. */
  readonly answering: boolean;
  /** Databases not ONLINE (recovering, suspect, …), by name with their state. */
  readonly offlineDatabases: readonly string[];
}

export interface HostSession {
  readonly server: string;
  discover(signal?: AbortSignal): Promise<DiscoveryResult>;
  preflight(request: PreflightRequest, signal?: AbortSignal): Promise<PreflightFacts>;
  stage(request: StageRequest, signal?: AbortSignal): Promise<StageResult>;
  runInstaller(request: InstallRequest): Promise<InstallResult>;
  /** What became of an execution started earlier, possibly by a process that has since died. */
  installerStatus(executionId: string, signal?: AbortSignal): Promise<InstallerStatus>;
  queryBuild(instance: string, signal?: AbortSignal): Promise<BuildQuery>;
  /** Availability groups and failover cluster facts of the named instances, each read on its own. */
  queryTopology(instances: readonly string[], signal?: AbortSignal): Promise<TopologyResult>;
  /**
   * `ALTER AVAILABILITY GROUP … MODIFY REPLICA ON replica WITH (FAILOVER_MODE = …)` on `instance`,
   * which must be the group's primary. `replica` as sys.availability_replicas names it.
   */
  setFailoverMode(request: { readonly instance: string; readonly group: string; readonly replica: string; readonly mode: 'automatic' | 'manual' }, signal?: AbortSignal): Promise<TopologyChange>;
  /** A planned failover (`ALTER AVAILABILITY GROUP … FAILOVER`) run on `instance`, the secondary that becomes primary. */
  failover(request: { readonly instance: string; readonly group: string }, signal?: AbortSignal): Promise<{ readonly alreadyPrimary: boolean }>;
  /** Moves an FCI's role to `node`; run on a node of its cluster (the virtual name moves with the role). */
  moveRole(request: { readonly instance: string; readonly node: string }, signal?: AbortSignal): Promise<TopologyChange>;
  /**
   * The Authenticode signature of a staged installer. Optional: transports to hosts without
   * Authenticode (the lab) leave it out, and the engine then relies on the SHA-256 alone.
   */
  installerSignature?(remotePath: string, stagingDir: string, signal?: AbortSignal): Promise<InstallerSignature | null>;
  /** When the host last started (Win32_OperatingSystem.LastBootUpTime), ISO-8601 UTC. */
  bootTime(signal?: AbortSignal): Promise<string>;
  /**
   * Asks the host to restart now; resolves once the request is accepted (the host goes down soon
   * after, and this session with it). A request while a restart is already under way starts no
   * second one.
   */
  requestRestart(request: RestartRequest, signal?: AbortSignal): Promise<void>;
  /** Whether each instance is back in service: engine running and answering, databases online. */
  instanceHealth(instances: readonly string[], signal?: AbortSignal): Promise<InstanceHealth[]>;
  close(): Promise<void>;
}

export interface Transport {
  readonly name: TransportName;
  /** Connects to a host. Rejects with a ConnectivityError when the host cannot be reached. */
  open(address: HostAddress, signal?: AbortSignal): Promise<HostSession>;
  /** Releases whatever the transport holds across hosts (local PowerShell processes, the lab world). */
  dispose(): Promise<void>;
}

export const TRANSPORT_NAMES = ['winrm', 'ssh', 'simulated'] as const;
export type TransportName = (typeof TRANSPORT_NAMES)[number];
