import type { TargetCatalogFacts } from '../catalog/facts.js';
import type { TransportName } from '../remote/transport.js';
import type { RollingPlanJson } from '../topology/forPlan.js';

/** What the planner concludes for one instance. */
export const PLAN_STATUS = ['pending', 'up_to_date', 'unsupported', 'no_mapping', 'invalid_version', 'unreachable'] as const;
export type PlanStatus = (typeof PLAN_STATUS)[number];

/** One installer in a target's plan, as `--hotfix-plan --json` prints it. */
export interface PlanStep {
  /** Position in this target's sequence, from 1. */
  readonly order: number;
  /** Installer file name. */
  readonly installer: string;
  /** The installer's path on the admin machine (local, absolute or UNC). */
  readonly path: string;
  /** A failed required step stops the host's later steps; a failed optional one does not. */
  readonly required: boolean;
  /** The command line: the quoted path and the mapping's parameters. */
  readonly command: string;
}

/** One instance in the plan, as `--hotfix-plan --json` prints it. */
export interface PlanTarget {
  readonly server: string;
  readonly instance: string;
  readonly current_build: string | null;
  readonly version_family: string | null;
  readonly edition: string | null;
  readonly status: PlanStatus;
  readonly target_build: string | null;
  readonly requires_restart: boolean;
  readonly message: string;
  readonly steps: readonly PlanStep[];
  /** Where the current and target builds stand, from the build catalog (added after planning). */
  readonly catalog?: TargetCatalogFacts;
}

export type PlanSummary = Record<PlanStatus, number>;

/** The plan's JSON: exactly this object is printed by `--hotfix-plan --json`. */
export interface Plan {
  readonly targets: readonly PlanTarget[];
  readonly summary: PlanSummary;
  /** Present when targets belong to availability groups or failover cluster instances: their rolling order. */
  readonly rolling?: RollingPlanJson | undefined;
}

/** One installer execution on one host: the unit the deployment engine runs. */
export interface HostStep {
  /** Position on this host, from 1. */
  readonly order: number;
  readonly installer: string;
  readonly localPath: string;
  readonly parameters: string;
  readonly command: string;
  readonly required: boolean;
  /** Pinned SHA-256 from the mapping, lower-case hex. */
  readonly sha256: string | null;
  readonly family: string;
  /** Where this installer comes from in the mapping file, for messages (`mappings[1].files[0]`). */
  readonly mappingRef: string;
  readonly description: string;
  /** The mapping file's `expected_minutes` for this installer: the prediction when history has none. */
  readonly expectedMinutes?: number | null | undefined;
  /** The plan targets (`SERVER\INSTANCE`) this execution serves. */
  readonly targets: readonly string[];
}

/** The work for one host: its plan targets and the installers to run there, in order. */
export interface HostPlan {
  readonly server: string;
  readonly transport: TransportName;
  readonly port: number | undefined;
  readonly credential: string | undefined;
  /** Every plan target on this host, whatever its status. */
  readonly targets: readonly PlanTarget[];
  readonly steps: readonly HostStep[];
}

export function targetKey(server: string, instance: string): string {
  return `${server}\\${instance}`;
}
