import { restartLine } from '../report/restartData.js';
import { rollingLines } from '../report/rollingData.js';
import { existsSync } from 'node:fs';
import type { Config } from '../config/load.js';
import { loadConfigOrThrow, openHistoryFor } from '../deploy/preparePlan.js';
import {
  type EventJson,
  HISTORY_RUN_LIMIT,
  listRuns,
  type RunDetailJson,
  type RunListJson,
  runDetail,
  type TargetJson,
} from '../report/historyData.js';
import type { TargetStatusCounts } from '../report/runData.js';
import { History } from '../store/history.js';
import { TARGET_STATUS } from '../store/states.js';
import { EXIT } from './exitCodes.js';
import type { CliOptions } from './options.js';
import { noSuchRun } from './reportCommand.js';

/** `--hotfix-history`: the latest runs, or one run (`--run-id N`) with its targets, steps and last events. */
export async function historyCommand(options: CliOptions): Promise<number> {
  const config = loadConfigOrThrow(options.config);
  // Reading must not create an empty history.db where the operator expected one to be.
  if (!existsSync(config.historyDbPath)) {
    return options.runId !== undefined ? noSuchRun(options.runId, config) : printRunList({ runs: [] }, options, config);
  }
  const db = openHistoryFor(config);
  try {
    const history = new History(db);
    if (options.runId === undefined) return printRunList(listRuns(history), options, config);
    const detail = runDetail(history, options.runId);
    if (!detail) return noSuchRun(options.runId, config);
    process.stdout.write(options.json ? `${JSON.stringify(detail, null, 2)}\n` : `${formatRunDetail(detail)}\n`);
    return EXIT.ok;
  } finally {
    db.close();
  }
}

function printRunList(list: RunListJson, options: CliOptions, config: Config): number {
  if (options.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
  else if (list.runs.length === 0) process.stdout.write(`No runs recorded yet in ${config.historyDbPath}.\n`);
  else process.stdout.write(`${formatRunList(list, config.historyDbPath)}\n`);
  return EXIT.ok;
}

// ─── text ──────────────────────────────────────────────────────────────────────────────────────

export function formatRunList(list: RunListJson, historyDb: string): string {
  const rows = list.runs.map((r) => [
    String(r.id),
    shortTime(r.started_at),
    shortTime(r.finished_at),
    r.parent_run_id === null ? r.mode : `${r.mode} of ${r.parent_run_id}`,
    r.status,
    r.operator,
    r.host,
    r.exit_code === null ? '-' : String(r.exit_code),
    countsText(r.targets),
  ]);
  const heading = `Runs in ${historyDb} (newest first${list.runs.length === HISTORY_RUN_LIMIT ? `, latest ${HISTORY_RUN_LIMIT}` : ''}):`;
  const table = formatTable(['RUN', 'STARTED (UTC)', 'FINISHED (UTC)', 'MODE', 'STATUS', 'OPERATOR', 'HOST', 'EXIT', 'TARGETS'], rows);
  return [heading, table, '', 'One run in detail: --hotfix-history --run-id N; its workbook: --hotfix-report --run-id N'].join('\n');
}

export function formatRunDetail(detail: RunDetailJson): string {
  const { run } = detail;
  const lines = [
    `Run ${run.id}: ${run.status}${run.exit_code === null ? '' : ` (exit code ${run.exit_code})`}, ${run.mode}${run.parent_run_id === null ? '' : ` of run ${run.parent_run_id}`}`,
    `Started ${shortTime(run.started_at)} UTC by ${run.operator} on ${run.host}; ${run.finished_at ? `finished ${shortTime(run.finished_at)} UTC` : 'not finished'}`,
    `Options: ${JSON.stringify(run.options)}`,
    `Targets: ${countsText(run.targets)}`,
    '',
    formatTable(
      ['TARGET', 'STATUS', 'BUILD BEFORE → AFTER', 'TARGET BUILD', 'RESTART', 'DURATION', 'DETAIL'],
      detail.targets.map((t) => [
        `${targetName(t)}${t.patched_alongside ? ' (alongside)' : ''}`,
        t.status,
        `${t.pre_build ?? '?'} → ${t.post_build ?? '-'}`,
        t.target_build ?? '-',
        t.requires_restart ? 'yes' : 'no',
        durationText(t.duration_ms),
        oneLine(t.error_message ?? t.message ?? '', 120),
      ]),
    ),
  ];
  const steps = detail.targets.flatMap((t) => t.steps.map((s) => ({ target: t, step: s })));
  lines.push('');
  if (steps.length === 0) {
    lines.push('Steps: none (no target had an installer to run)');
  } else {
    lines.push('Steps:');
    lines.push(
      formatTable(
        ['TARGET', '#', 'INSTALLER', 'REQUIRED', 'STATUS', 'EXIT', 'DURATION', 'DETAIL'],
        steps.map(({ target, step }) => [
          targetName(target),
          String(step.order),
          step.installer,
          step.required ? 'yes' : 'no',
          step.status,
          step.exit_code === null ? '-' : String(step.exit_code),
          durationText(step.duration_ms),
          oneLine(step.error_message ?? step.exit_meaning ?? '', 120),
        ]),
      ),
    );
  }
  if (detail.rolling && detail.rolling.length > 0) {
    lines.push('', 'Availability groups and clusters:');
    for (const s of detail.rolling) for (const line of rollingLines(s)) lines.push(`  ${line}`);
  }
  if (detail.restarts.length > 0) {
    lines.push('', 'Restarts:');
    for (const r of detail.restarts) lines.push(`  ${restartLine(r)}`);
  }
  if (detail.awaiting_restart.length > 0) lines.push('', `Still waiting for a restart: ${detail.awaiting_restart.join(', ')}`);
  lines.push('');
  const { tail, total } = detail.events;
  lines.push(tail.length < total ? `Last ${tail.length} of ${total} events:` : `Events (${total}):`);
  for (const event of tail) lines.push(eventLine(event));
  return lines.join('\n');
}

function eventLine(event: EventJson): string {
  return `${event.at} ${event.level.toUpperCase().padEnd(5)} ${oneLine(event.message, 200)}`;
}

function targetName(t: TargetJson): string {
  return `${t.server}\\${t.instance}`;
}

/** `5 success, 1 partial, 3 failed`: statuses in their constant's order, zero counts left out. */
function countsText(counts: TargetStatusCounts): string {
  const parts = TARGET_STATUS.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
  return parts.length > 0 ? parts.join(', ') : 'no targets';
}

/** `2026-11-26T02:00:55.827Z` → `2026-11-26 02:00:55`: the stored UTC time, to the second. */
function shortTime(iso: string | null): string {
  return iso === null ? '-' : iso.replace('T', ' ').slice(0, 19);
}

function durationText(ms: number | null): string {
  if (ms === null) return '-';
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min` : `${m} min ${String(s).padStart(2, '0')} s`;
}

function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
