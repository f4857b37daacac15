import type { History, StepRow, TargetRow } from '../store/history.js';
import type { TargetStatus } from '../store/states.js';
import { awaitingRestart, readHostRestarts, restartLine } from '../report/restartData.js';
import { readRollingSequences, rollingLines } from '../report/rollingData.js';

const COLOUR: Record<TargetStatus, string> = {
  success: '\x1b[32m',
  partial: '\x1b[33m',
  failed: '\x1b[31m',
  skipped: '\x1b[90m',
  pending: '\x1b[36m',
  in_progress: '\x1b[36m',
};

/** The table printed at the end of a deployment: one row per target, then counts and where to look. */
export function formatRunSummary(
  history: History,
  runId: number,
  context: { logFile: string; historyDb: string; exitCode: number; color: boolean },
): string {
  const run = history.run(runId)!;
  const targets = history.targets(runId);
  const steps = history.steps(runId);
  const rows = targets.map((t) => rowOf(t, steps));
  const headers = ['TARGET', 'STATUS', 'BUILD BEFORE → AFTER', 'TARGET BUILD', 'RESTART', 'DETAIL'];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]!.length)));
  const alignRow = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const lines = [`Run ${runId}: ${run.status} (exit code ${context.exitCode})`, alignRow(headers)];
  for (const r of rows) {
    const text = alignRow(r.cells);
    lines.push(context.color ? `${COLOUR[r.status]}${text}\x1b[0m` : text);
  }
  const counts = new Map<string, number>();
  for (const t of targets) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  lines.push('');
  lines.push(`Targets: ${[...counts.entries()].map(([s, n]) => `${n} ${s}`).join(', ') || 'none'}`);
  const sequences = readRollingSequences(history, runId);
  if (sequences.length > 0) {
    lines.push('Availability groups and clusters:');
    for (const s of sequences) for (const line of rollingLines(s)) lines.push(`  ${line}`);
  }
  const restarts = readHostRestarts(history, runId);
  if (restarts.length > 0) {
    lines.push('Restarts:');
    for (const r of restarts) lines.push(`  ${restartLine(r)}`);
  }
  const alongside = targets.filter((t) => t.patched_alongside === 1);
  if (alongside.length > 0) {
    lines.push('Patched alongside (no target names them; setup ran with /AllInstances):');
    for (const t of alongside) lines.push(`  ${t.server}\\${t.instance}: ${t.status}, ${t.pre_build ?? '?'} → ${t.post_build ?? '?'}`);
  }
  const waiting = awaitingRestart(targets);
  if (waiting.length > 0) {
    const why = restarts.length > 0 ? 'not restarted by this run' : 'restart: never; the tool restarts a server only when told to';
    lines.push(`Restart required (${why}): ${waiting.join(', ')}`);
  }
  if (run.status === 'interrupted') lines.push('Unfinished work remains: continue with --deploy-hotfixes --resume');
  else if (targets.some((t) => t.status === 'failed' || t.status === 'partial')) lines.push('Retry the failed and partial targets with --deploy-hotfixes --retry-failed');
  lines.push(`Log: ${context.logFile}`);
  lines.push(`History: run ${runId} in ${context.historyDb}`);
  return lines.join('\n');
}

function rowOf(t: TargetRow, steps: readonly StepRow[]): { status: TargetStatus; cells: string[] } {
  const own = steps.filter((s) => s.hotfix_target_id === t.id);
  const ran = own.filter((s) => s.exit_code !== null).map((s) => `${s.installer_file}: ${s.exit_code}`);
  const before = t.pre_build ?? '?';
  const after = t.post_build ?? (t.status === 'skipped' ? '-' : '?');
  const detail = t.error_message ?? (t.status === 'success' ? ran.join('; ') : (t.message ?? ''));
  return {
    status: t.status,
    cells: [`${t.server}\\${t.instance}${t.patched_alongside === 1 ? ' (alongside)' : ''}`, t.status, `${before} → ${after}`, t.target_build ?? '-', t.requires_restart ? 'yes' : 'no', oneLine(detail, 140)],
  };
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
