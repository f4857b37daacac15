import { type HostRestart, readHostRestarts } from './restartData.js';
import { type RollingSequence, readRollingSequences } from './rollingData.js';
import { compareBuilds, parseBuild } from '../sqlserver/buildNumber.js';
import { classifyExitCode } from '../sqlserver/setupExitCodes.js';
import type { History, RunRow, StepRow, TargetRow } from '../store/history.js';
import { type RunMode, type RunStatus, type StepStatus, TARGET_STATUS, type TargetStatus } from '../store/states.js';

/**
 * The data a run's workbook shows, read from history.db once and held as plain values (real Dates,
 * booleans, milliseconds), so that the workbook code only lays it out.
 */
export interface RunReportData {
  readonly run: ReportRun;
  readonly targets: readonly ReportTarget[];
  readonly steps: readonly ReportStep[];
  readonly countsByStatus: TargetStatusCounts;
  readonly countsByFamily: readonly FamilyCounts[];
  readonly trend: Trend;
  /** The run's restarts (none unless the run's restart settings asked for them). */
  readonly restarts: readonly HostRestart[];
  /** Each availability group's and FCI's sequence (none unless the run had clustered instances). */
  readonly rolling?: readonly RollingSequence[];
  /** When the data was read: the report's "as of" time. */
  readonly generatedAt: Date;
}

export type TargetStatusCounts = Readonly<Record<TargetStatus, number>>;

export interface ReportRun {
  readonly id: number;
  readonly startedAt: Date;
  /** Null while the run is running or was interrupted. */
  readonly finishedAt: Date | null;
  readonly status: RunStatus;
  readonly mode: RunMode;
  /** The options the run was started with (`hotfix_runs.options`); `{ raw }` when that text is not a JSON object. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly parentRunId: number | null;
  readonly operator: string;
  readonly host: string;
  readonly configPath: string | null;
  readonly exitCode: number | null;
}

export interface ReportTarget {
  readonly id: number;
  readonly server: string;
  readonly instance: string;
  readonly family: string | null;
  readonly edition: string | null;
  readonly planStatus: TargetRow['plan_status'];
  readonly preBuild: string | null;
  readonly postBuild: string | null;
  readonly targetBuild: string | null;
  readonly status: TargetStatus;
  readonly restartRequired: boolean;
  /** No target named it: setup run with /AllInstances patched it with the planned ones. */
  readonly patchedAlongside: boolean;
  readonly message: string | null;
  readonly error: string | null;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  /** Finished minus started; null until both are known. */
  readonly durationMs: number | null;
}

export interface ReportStep {
  readonly id: number;
  readonly targetId: number;
  readonly server: string;
  readonly instance: string;
  readonly installer: string;
  /** Position in this target's sequence, from 1. */
  readonly order: number;
  readonly required: boolean;
  readonly description: string | null;
  readonly status: StepStatus;
  readonly exitCode: number | null;
  /** As recorded, or looked up from the exit code when the record has none. */
  readonly exitMeaning: string | null;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly durationMs: number | null;
  /** The tail of setup's Summary.txt, when the target had one. */
  readonly output: string | null;
  readonly error: string | null;
}

export interface FamilyCounts {
  /** The SQL Server version family (`2019`), or null for targets whose version was not known. */
  readonly family: string | null;
  readonly total: number;
  readonly byStatus: TargetStatusCounts;
}

/** Patch status over the last runs up to the reported one, oldest first. */
export interface Trend {
  readonly runs: readonly TrendRun[];
  /** One row per server\instance seen in any of those runs. */
  readonly rows: readonly TrendRow[];
}

export interface TrendRun {
  readonly id: number;
  readonly startedAt: Date;
  readonly status: RunStatus;
}

export interface TrendRow {
  readonly server: string;
  readonly instance: string;
  /** The family as the newest run that knew it recorded it. */
  readonly family: string | null;
  /** Aligned with `Trend.runs`; null where the instance was not part of that run. */
  readonly cells: readonly (TrendCell | null)[];
}

export interface TrendCell {
  /** The build after the run: the post-check build, or the build before when nothing changed it. */
  readonly build: string | null;
  readonly status: TargetStatus;
  readonly targetBuild: string | null;
  /** Whether `build` is at or above `targetBuild`; null when the run had no target build for it. */
  readonly atTarget: boolean | null;
}

/** How many runs the trend sheet shows, up to and including the reported run. */
export const DEFAULT_TREND_RUNS = 20;

export function emptyStatusCounts(): Record<TargetStatus, number> {
  return Object.fromEntries(TARGET_STATUS.map((s) => [s, 0])) as Record<TargetStatus, number>;
}

export function countByStatus(targets: readonly { readonly status: TargetStatus }[]): TargetStatusCounts {
  const counts = emptyStatusCounts();
  for (const t of targets) counts[t.status]++;
  return counts;
}

/** Reads everything the workbook of one run needs; undefined when history.db has no such run. */
export function readRunReport(
  history: History,
  runId: number,
  options: { readonly trendRuns?: number; readonly now?: Date } = {},
): RunReportData | undefined {
  const runRow = history.run(runId);
  if (!runRow) return undefined;
  const targetRows = history.targets(runId);
  const targets = targetRows.map(toReportTarget);
  const byTargetId = new Map(targetRows.map((t) => [t.id, t]));
  const steps = history.steps(runId).map((s) => toReportStep(s, byTargetId.get(s.hotfix_target_id)));
  return {
    run: toReportRun(runRow),
    targets,
    steps,
    countsByStatus: countByStatus(targets),
    countsByFamily: countByFamily(targets),
    trend: readTrend(history, runId, options.trendRuns ?? DEFAULT_TREND_RUNS),
    restarts: readHostRestarts(history, runId),
    rolling: readRollingSequences(history, runId),
    generatedAt: options.now ?? new Date(),
  };
}

export function toReportRun(row: RunRow): ReportRun {
  return {
    id: row.id,
    // started_at is NOT NULL; an unreadable one still yields a Date rather than a crash.
    startedAt: parseTime(row.started_at) ?? new Date(0),
    finishedAt: parseTime(row.finished_at),
    status: row.status,
    mode: row.mode,
    options: parseOptions(row.options),
    parentRunId: row.parent_run_id,
    operator: row.operator,
    host: row.host,
    configPath: row.config_path,
    exitCode: row.exit_code,
  };
}

function toReportTarget(row: TargetRow): ReportTarget {
  const startedAt = parseTime(row.started_at);
  const finishedAt = parseTime(row.completed_at);
  return {
    id: row.id,
    server: row.server,
    instance: row.instance,
    family: row.version_family,
    edition: row.edition,
    planStatus: row.plan_status,
    preBuild: row.pre_build,
    postBuild: row.post_build,
    targetBuild: row.target_build,
    status: row.status,
    restartRequired: row.requires_restart === 1,
    patchedAlongside: row.patched_alongside === 1,
    message: row.message,
    error: row.error_message,
    startedAt,
    finishedAt,
    durationMs: elapsedMs(startedAt, finishedAt),
  };
}

function toReportStep(row: StepRow, target: TargetRow | undefined): ReportStep {
  const startedAt = parseTime(row.started_at);
  const finishedAt = parseTime(row.completed_at);
  return {
    id: row.id,
    targetId: row.hotfix_target_id,
    server: target?.server ?? '',
    instance: target?.instance ?? '',
    installer: row.installer_file,
    order: row.step_order,
    required: row.required === 1,
    description: row.description,
    status: row.status,
    exitCode: row.exit_code,
    exitMeaning: row.exit_meaning ?? (row.exit_code === null ? null : classifyExitCode(row.exit_code).meaning),
    startedAt,
    finishedAt,
    durationMs: row.duration_ms ?? elapsedMs(startedAt, finishedAt),
    output: row.output,
    error: row.error_message,
  };
}

function countByFamily(targets: readonly ReportTarget[]): FamilyCounts[] {
  const groups = new Map<string | null, ReportTarget[]>();
  for (const t of targets) groups.set(t.family, [...(groups.get(t.family) ?? []), t]);
  return [...groups.entries()]
    .sort(([a], [b]) => compareFamilies(a, b))
    .map(([family, members]) => ({ family, total: members.length, byStatus: countByStatus(members) }));
}

// Families are years (2008R2 sorts after 2008); unknown families go last.
function compareFamilies(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a.localeCompare(b, 'en', { numeric: true });
}

/** The runs up to `runId` (the newest `limit` of them, oldest first) and each instance's build after each. */
export function readTrend(history: History, runId: number, limit: number): Trend {
  const runRows = (
    history.db.prepare('SELECT * FROM hotfix_runs WHERE id <= ? ORDER BY id DESC LIMIT ?').all(runId, Math.max(1, limit)) as RunRow[]
  ).reverse();
  const runs: TrendRun[] = runRows.map((r) => ({ id: r.id, startedAt: parseTime(r.started_at) ?? new Date(0), status: r.status }));
  const rows = new Map<string, { server: string; instance: string; family: string | null; cells: (TrendCell | null)[] }>();
  runRows.forEach((run, column) => {
    for (const t of history.targets(run.id)) {
      // Server and instance names are case-insensitive in SQL Server and in the servers table.
      const key = `${t.server}\\${t.instance}`.toLowerCase();
      let row = rows.get(key);
      if (!row) {
        row = { server: t.server, instance: t.instance, family: null, cells: runRows.map(() => null) };
        rows.set(key, row);
      }
      row.family = t.version_family ?? row.family;
      row.cells[column] = trendCell(t);
    }
  });
  const sorted = [...rows.values()].sort(
    (a, b) => a.server.localeCompare(b.server, 'en', { sensitivity: 'base' }) || a.instance.localeCompare(b.instance, 'en', { sensitivity: 'base' }),
  );
  return { runs, rows: sorted };
}

function trendCell(t: TargetRow): TrendCell {
  const build = t.post_build ?? t.pre_build;
  return { build, status: t.status, targetBuild: t.target_build, atTarget: reachedTarget(build, t.target_build) };
}

/** Compared as four numbers, as the planner does; null when either build is missing or unreadable. */
export function reachedTarget(build: string | null, targetBuild: string | null): boolean | null {
  const current = parseBuild(build);
  const target = parseBuild(targetBuild);
  if (!current || !target) return null;
  return compareBuilds(current, target) >= 0;
}

/** history.db stores ISO-8601 UTC text; anything unreadable becomes null rather than an Invalid Date. */
export function parseTime(text: string | null): Date | null {
  if (text === null) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Milliseconds from start to finish; null until both are known. */
export function elapsedMs(startedAt: Date | null, finishedAt: Date | null): number | null {
  if (!startedAt || !finishedAt) return null;
  return Math.max(0, finishedAt.getTime() - startedAt.getTime());
}

function parseOptions(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Falls through: the raw text is still worth showing.
  }
  return { raw: text };
}
