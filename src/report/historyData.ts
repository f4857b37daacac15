import { awaitingRestart, type HostRestart, readHostRestarts } from './restartData.js';
import { type RollingSequence, readRollingSequences } from './rollingData.js';
import type { EventRow, History, RunRow, StepRow, TargetRow } from '../store/history.js';
import type { EventLevel, RunMode, RunStatus, StepStatus, TargetStatus } from '../store/states.js';
import { countByStatus, elapsedMs, emptyStatusCounts, parseTime, type TargetStatusCounts } from './runData.js';

/*
 * The shapes `--hotfix-history --json` prints (described in docs/reports.md). Field names follow the
 * history.db columns; times stay the ISO-8601 UTC text stored there. Adding a field is compatible;
 * renaming or removing one is not.
 */

/** How many runs `--hotfix-history` lists. */
export const HISTORY_RUN_LIMIT = 20;
/** How many of a run's last events `--hotfix-history --run-id` shows. */
export const HISTORY_EVENT_TAIL = 20;

/** `--hotfix-history --json`: the latest runs, newest first. */
export interface RunListJson {
  readonly runs: readonly RunSummaryJson[];
}

export interface RunSummaryJson {
  readonly id: number;
  readonly started_at: string;
  readonly finished_at: string | null;
  readonly mode: RunMode;
  readonly status: RunStatus;
  readonly parent_run_id: number | null;
  readonly operator: string;
  readonly host: string;
  readonly exit_code: number | null;
  /** Every target status, zero included, so that consumers need no defaulting. */
  readonly targets: TargetStatusCounts;
  readonly target_total: number;
}

/** `--hotfix-history --run-id N --json`: one run with its targets, their steps, and its last events. */
export interface RunDetailJson {
  readonly run: RunDetailRunJson;
  readonly targets: readonly TargetJson[];
  readonly events: { readonly total: number; readonly tail: readonly EventJson[] };
  /** The run's restarts: whether each host was restarted, when, how long it took to come back. */
  readonly restarts: readonly HostRestart[];
  /** Targets patched that still wait for a restart (`SERVER\\INSTANCE`). */
  readonly awaiting_restart: readonly string[];
  /** Each availability group's and FCI's sequence (failovers with times, primary before and after); absent when the run had none. */
  readonly rolling?: readonly RollingSequence[];
}

export interface RunDetailRunJson extends RunSummaryJson {
  /** The options the run was started with, as recorded. */
  readonly options: unknown;
  readonly config_path: string | null;
}

export interface TargetJson {
  readonly id: number;
  readonly server: string;
  readonly instance: string;
  readonly version_family: string | null;
  readonly edition: string | null;
  readonly plan_status: TargetRow['plan_status'];
  readonly status: TargetStatus;
  readonly pre_build: string | null;
  readonly post_build: string | null;
  readonly target_build: string | null;
  readonly requires_restart: boolean;
  /** True for an instance no target names that setup with /AllInstances patched with the planned ones. */
  readonly patched_alongside: boolean;
  /** True when the host answered, false when it could not be reached, null when not tried. */
  readonly reached: boolean | null;
  readonly message: string | null;
  readonly error_message: string | null;
  readonly started_at: string | null;
  readonly completed_at: string | null;
  readonly duration_ms: number | null;
  readonly steps: readonly StepJson[];
}

export interface StepJson {
  readonly id: number;
  readonly order: number;
  /** Position of the installer on its host; steps of one execution share it. */
  readonly host_order: number;
  readonly installer: string;
  readonly required: boolean;
  readonly description: string | null;
  readonly status: StepStatus;
  readonly exit_code: number | null;
  readonly exit_meaning: string | null;
  readonly started_at: string | null;
  readonly completed_at: string | null;
  readonly duration_ms: number | null;
  readonly output: string | null;
  readonly error_message: string | null;
}

export interface EventJson {
  readonly id: number;
  readonly at: string;
  readonly level: EventLevel;
  readonly kind: string;
  readonly server: string | null;
  readonly target_id: number | null;
  readonly step_id: number | null;
  readonly message: string;
}

export function listRuns(history: History, limit: number = HISTORY_RUN_LIMIT): RunListJson {
  const runs = history.recentRuns(limit);
  const counts = statusCountsByRun(history, runs.map((r) => r.id));
  return { runs: runs.map((r) => runSummary(r, counts.get(r.id) ?? emptyStatusCounts())) };
}

/** Undefined when history.db has no such run. */
export function runDetail(history: History, runId: number, eventTail: number = HISTORY_EVENT_TAIL): RunDetailJson | undefined {
  const run = history.run(runId);
  if (!run) return undefined;
  const targets = history.targets(runId);
  const stepsByTarget = new Map<number, StepRow[]>();
  for (const step of history.steps(runId)) stepsByTarget.set(step.hotfix_target_id, [...(stepsByTarget.get(step.hotfix_target_id) ?? []), step]);
  const events = history.events(runId);
  return {
    run: { ...runSummary(run, countByStatus(targets)), options: parseJsonOrText(run.options), config_path: run.config_path },
    targets: targets.map((t) => targetJson(t, (stepsByTarget.get(t.id) ?? []).sort((a, b) => a.step_order - b.step_order))),
    events: { total: events.length, tail: events.slice(Math.max(0, events.length - eventTail)).map(eventJson) },
    restarts: readHostRestarts(history, runId),
    awaiting_restart: awaitingRestart(targets),
    ...rollingOf(history, runId),
  };
}

function rollingOf(history: History, runId: number): { rolling?: readonly RollingSequence[] } {
  const sequences = readRollingSequences(history, runId);
  return sequences.length > 0 ? { rolling: sequences } : {};
}

function statusCountsByRun(history: History, runIds: readonly number[]): Map<number, Record<TargetStatus, number>> {
  const counts = new Map<number, Record<TargetStatus, number>>();
  if (runIds.length === 0) return counts;
  const rows = history.db
    .prepare(
      `SELECT hotfix_run_id AS run_id, status, COUNT(*) AS n FROM hotfix_targets
       WHERE hotfix_run_id IN (${runIds.map(() => '?').join(', ')}) GROUP BY hotfix_run_id, status`,
    )
    .all(...runIds) as { run_id: number; status: TargetStatus; n: number }[];
  for (const row of rows) {
    const forRun = counts.get(row.run_id) ?? emptyStatusCounts();
    forRun[row.status] = row.n;
    counts.set(row.run_id, forRun);
  }
  return counts;
}

function runSummary(run: RunRow, counts: TargetStatusCounts): RunSummaryJson {
  return {
    id: run.id,
    started_at: run.started_at,
    finished_at: run.finished_at,
    mode: run.mode,
    status: run.status,
    parent_run_id: run.parent_run_id,
    operator: run.operator,
    host: run.host,
    exit_code: run.exit_code,
    targets: counts,
    target_total: Object.values(counts).reduce((sum, n) => sum + n, 0),
  };
}

function targetJson(t: TargetRow, steps: readonly StepRow[]): TargetJson {
  return {
    id: t.id,
    server: t.server,
    instance: t.instance,
    version_family: t.version_family,
    edition: t.edition,
    plan_status: t.plan_status,
    status: t.status,
    pre_build: t.pre_build,
    post_build: t.post_build,
    target_build: t.target_build,
    requires_restart: t.requires_restart === 1,
    patched_alongside: t.patched_alongside === 1,
    reached: t.reached === null ? null : t.reached === 1,
    message: t.message,
    error_message: t.error_message,
    started_at: t.started_at,
    completed_at: t.completed_at,
    duration_ms: elapsedMs(parseTime(t.started_at), parseTime(t.completed_at)),
    steps: steps.map(stepJson),
  };
}

function stepJson(s: StepRow): StepJson {
  return {
    id: s.id,
    order: s.step_order,
    host_order: s.host_step_order,
    installer: s.installer_file,
    required: s.required === 1,
    description: s.description,
    status: s.status,
    exit_code: s.exit_code,
    exit_meaning: s.exit_meaning,
    started_at: s.started_at,
    completed_at: s.completed_at,
    duration_ms: s.duration_ms ?? elapsedMs(parseTime(s.started_at), parseTime(s.completed_at)),
    output: s.output,
    error_message: s.error_message,
  };
}

function eventJson(e: EventRow): EventJson {
  return {
    id: e.id,
    at: e.at,
    level: e.level,
    kind: e.kind,
    server: e.server,
    target_id: e.hotfix_target_id,
    step_id: e.hotfix_step_id,
    message: e.message,
  };
}

function parseJsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
