import type { ActionRow, History, TargetRow } from '../store/history.js';

/** One restart of a run's graph, as the summary, --hotfix-history and the workbook show it. */
export interface HostRestart {
  readonly server: string;
  /** `before` patching (a pending reboot cleared) or `after` it. */
  readonly when: 'before' | 'after';
  /** Why the run had it in its graph. */
  readonly reason: string | null;
  /** restarted (and back healthy), not_back (did not come back in time), not_needed, or unfinished. */
  readonly outcome: 'restarted' | 'not_back' | 'not_needed' | 'unfinished';
  /** When the restart was requested (recorded just before). */
  readonly requestedAt: string | null;
  /** When the host was seen back and healthy. */
  readonly backAt: string | null;
  /** From the request to healthy again. */
  readonly backMs: number | null;
  /** Why it was not needed, or why the host is counted as not back. */
  readonly note: string | null;
}

function detailOf(row: ActionRow): Record<string, unknown> {
  try {
    const value = JSON.parse(row.detail) as unknown;
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The run's restarts in graph order: each restart action with the wait_healthy that follows it. */
export function readHostRestarts(history: History, runId: number): HostRestart[] {
  const actions = history.actions(runId);
  const restarts: HostRestart[] = [];
  for (const [index, restart] of actions.entries()) {
    if (restart.kind !== 'restart') continue;
    const wait = actions.slice(index + 1).find((a) => a.kind === 'wait_healthy' && a.server.toLowerCase() === restart.server.toLowerCase());
    const facts = detailOf(restart);
    const back = wait ? detailOf(wait) : {};
    const outcome: HostRestart['outcome'] =
      restart.status === 'skipped'
        ? 'not_needed'
        : wait?.status === 'success'
          ? 'restarted'
          : wait?.status === 'failed'
            ? 'not_back'
            : 'unfinished';
    restarts.push({
      server: restart.server,
      when: facts.when === 'before' ? 'before' : 'after',
      reason: restart.reason,
      outcome,
      requestedAt: typeof facts.requested_at === 'string' ? facts.requested_at : null,
      backAt: typeof back.back_at === 'string' ? back.back_at : null,
      backMs: typeof back.back_ms === 'number' ? back.back_ms : null,
      note: outcome === 'not_needed' ? restart.error_message : outcome === 'not_back' ? (wait?.error_message ?? null) : null,
    });
  }
  return restarts;
}

/** Targets patched that still wait for a restart nobody made (restart: never, or one skipped or failed). */
export function awaitingRestart(targets: readonly TargetRow[]): string[] {
  return targets.filter((t) => t.requires_restart === 1 && (t.status === 'success' || t.status === 'partial')).map((t) => `${t.server}\\${t.instance}`);
}

/** One line per restart, for the terminal and the history text. */
export function restartLine(r: HostRestart): string {
  const when = r.when === 'before' ? 'before patching' : 'after patching';
  switch (r.outcome) {
    case 'restarted':
      return `${r.server}: restarted ${when} at ${r.requestedAt ?? '?'}; back and healthy after ${seconds(r.backMs)}`;
    case 'not_back':
      return `${r.server}: restarted ${when} at ${r.requestedAt ?? '?'}; did not come back: ${r.note ?? ''}`;
    case 'not_needed':
      return `${r.server}: not restarted ${when}: ${r.note ?? 'not needed'}`;
    case 'unfinished':
      return `${r.server}: restart ${when} unfinished${r.requestedAt ? ` (requested at ${r.requestedAt})` : ''}`;
    default: {
      const never: never = r.outcome;
      throw new Error(`unknown restart outcome ${String(never)}`);
    }
  }
}

function seconds(ms: number | null): string {
  if (ms === null) return '?';
  return ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`;
}
