import type { InstallerStartMethod, TimeoutAction } from '../remote/transport.js';
import type { RestartPolicy } from '../config/schemas.js';
import type { TransportProvider } from '../remote/transports.js';
import type { History } from '../store/history.js';
import type { Cancellation } from './cancellation.js';
import type { MaintenanceWindow } from './window.js';
import type { InstallerCache } from './installerCache.js';
import type { DeployObserver } from './observer.js';

export interface DeploySettings {
  /** Folder on each target where installers are staged (a Windows path). */
  readonly stagingDir: string;
  readonly stepTimeoutMs: number;
  readonly minFreeDiskBytes: number;
  readonly ignorePendingFileRename: boolean;
  /** Refuse installers whose Authenticode signature the target reports as anything but Valid. */
  readonly requireSignedInstallers: boolean;
  /** Hosts patched at once. */
  readonly maxConcurrent: number;
  /** What a step timeout does to the installer (audit_config.json `timeout_action`). */
  readonly timeoutAction: TimeoutAction;
  /** How targets start setup's wrapper (audit_config.json `installer_start`); absent: scheduled_task. */
  readonly installerStart?: InstallerStartMethod | undefined;
  /** Authenticode signer subjects an installer may have (audit_config.json `allowed_signers`). */
  readonly allowedSigners: readonly string[];
  /** never (report only) | when_required | always: restarts after patching. */
  readonly restart: RestartPolicy;
  /** Restart a host with a pending reboot before patching it, instead of skipping it. */
  readonly clearPendingReboot: boolean;
  /** Real time a restarted host has to be healthy again. */
  readonly restartTimeoutMs: number;
  /** Real time a patched availability group replica has to be SYNCHRONIZED again (sync_timeout_minutes). */
  readonly syncTimeoutMs: number;
  /**
   * The groups a host belongs to whose members must not be out of service at the same time (an
   * availability group, a failover cluster): never two restarts at once within one group.
   */
  readonly serviceGroupsOf?: ((server: string) => readonly string[]) | undefined;
}

/** What every part of a deployment works with: the run, its history, the way to the hosts, and the operator's stop request. */
export interface DeployContext {
  readonly runId: number;
  readonly history: History;
  readonly transports: TransportProvider;
  readonly settings: DeploySettings;
  readonly observer: DeployObserver;
  readonly cancellation: Cancellation;
  readonly installers: InstallerCache;
  /**
   * Limits installer copies across hosts (`max_concurrent_staging`), apart from the hosts patched at
   * once: copying is bound by the network, installing by the fleet's tolerance. Absent: no limit.
   */
  readonly stagingSlots?: (<T>(copy: () => Promise<T>) => Promise<T>) | undefined;
  /** Only these hosts (lower-case names) are worked on (`--resume --server`); null or absent for every host. */
  readonly hosts?: ReadonlySet<string> | null | undefined;
  /** When the run's maintenance window ends (epoch ms); null or absent: no window. */
  readonly windowEndMs?: number | null | undefined;
  /** The maintenance window, built by the engine from `windowEndMs` and the run's predictions. */
  window?: MaintenanceWindow | undefined;
  /** --continue-after-halt: a wave that halted the run is overridden and the later waves go on. */
  readonly continueAfterHalt?: boolean | undefined;
  /** Predicted minutes of an installer with no history and no expected_minutes (`default_expected_minutes`). */
  readonly defaultExpectedMinutes?: number | undefined;
}
