import type { ActionRow, History } from '../store/history.js';

/**
 * Each availability group's and failover cluster instance's sequence in a run, as the summary,
 * --hotfix-history and the workbook show it: how it ended, who was primary (or owner) before and
 * after, every failover or role move with its time, and the failover modes put back.
 */
export interface RollingSequence {
  readonly kind: 'availability_group' | 'failover_cluster';
  /** The group's name, or the FCI's `VIRTUAL\INSTANCE`. */
  readonly name: string;
  /**
   * completed: its whole order done; stopped: a fault stopped it part-way (reason); unfinished: the
   * run has work of it left; refused: the plan refused it (reason); up_to_date: nothing to patch.
   */
  readonly outcome: 'completed' | 'stopped' | 'unfinished' | 'refused' | 'up_to_date';
  readonly reason: string | null;
  /** Primary replica (AG) or owning node (FCI) before the run. */
  readonly before: string | null;
  /** After the run, as its last failover or role move left it. */
  readonly after: string | null;
  readonly moves: readonly RollingMove[];
  /** Failover modes changed for the run and whether they were put back (AG only). */
  readonly modes: readonly { readonly replica: string; readonly original: string | null; readonly restored: boolean }[];
}

/** One failover (AG) or role move (FCI). */
export interface RollingMove {
  readonly from: string;
  readonly to: string;
  /** patch_former_primary, free_host or failback. */
  readonly why: string;
  /** success, failed, skipped, or pending / running when unfinished. */
  readonly status: string;
  /** When it was done (or recorded as failed or skipped). */
  readonly at: string | null;
  readonly note: string | null;
}

interface RollingRecord {
  readonly availability_groups: readonly { name: string; status: string; reasons: readonly string[]; primary_before: string | null }[];
  readonly failover_clusters: readonly { name: string; status: string; reasons: readonly string[]; owner_before: string }[];
}

function detailOf(row: ActionRow): Record<string, unknown> {
  try {
    const value = JSON.parse(row.detail) as unknown;
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const isFinal = (status: string) => status === 'success' || status === 'failed' || status === 'skipped';

function outcomeOf(actions: readonly ActionRow[]): { outcome: RollingSequence['outcome']; reason: string | null } {
  if (actions.some((a) => !isFinal(a.status))) return { outcome: 'unfinished', reason: null };
  const failed = actions.find((a) => a.status === 'failed');
  if (failed) return { outcome: 'stopped', reason: failed.error_message };
  const stoppedBy = actions.find((a) => a.status === 'skipped' && a.kind !== 'restore');
  if (stoppedBy) return { outcome: 'stopped', reason: text(detailOf(stoppedBy).stop) ?? stoppedBy.error_message };
  return { outcome: 'completed', reason: null };
}

function moveOf(a: ActionRow): RollingMove {
  const d = detailOf(a);
  const from = text(a.kind === 'failover' ? d.primary_before : d.owner_before) ?? text(d.from) ?? '?';
  return {
    from,
    to: text(d.to) ?? '?',
    why: text(d.reason) ?? a.reason ?? '',
    status: a.status,
    at: text(a.kind === 'failover' ? d.failed_over_at : d.moved_at) ?? a.completed_at,
    note: a.status === 'success' ? null : a.error_message,
  };
}

/** The run's sequences, from the rolling order it was started with and its group actions; empty when it had none. */
export function readRollingSequences(history: History, runId: number): RollingSequence[] {
  const record = history.rollingOf(runId) as RollingRecord | null;
  if (!record) return [];
  const actions = history.actions(runId);
  const own = (server: string) => actions.filter((a) => a.server.toLowerCase() === server.toLowerCase());
  const sequences: RollingSequence[] = [];
  for (const g of record.availability_groups) {
    const mine = own(`ag:${g.name}`);
    const moves = mine.filter((a) => a.kind === 'failover').map(moveOf);
    const done = moves.filter((m) => m.status === 'success');
    const judged = g.status === 'planned' ? outcomeOf(mine) : { outcome: g.status as 'refused' | 'up_to_date', reason: g.reasons.join('; ') || null };
    const changes = mine.filter((a) => a.kind === 'set_failover_mode' && a.status === 'success');
    sequences.push({
      kind: 'availability_group',
      name: g.name,
      ...judged,
      before: g.primary_before,
      after: done.length > 0 ? done[done.length - 1]!.to : g.primary_before,
      moves,
      modes: changes.map((c) => {
        const replica = text(detailOf(c).replica) ?? '?';
        const restore = mine.find((a) => a.kind === 'restore' && text(detailOf(a).replica)?.toLowerCase() === replica.toLowerCase());
        return { replica, original: text(detailOf(c).original), restored: restore?.status === 'success' };
      }),
    });
  }
  for (const c of record.failover_clusters) {
    const mine = own(`fci:${c.name}`);
    const moves = mine.filter((a) => a.kind === 'move_role').map(moveOf);
    const done = moves.filter((m) => m.status === 'success');
    const judged = c.status === 'planned' ? outcomeOf(mine) : { outcome: c.status as 'refused' | 'up_to_date', reason: c.reasons.join('; ') || null };
    sequences.push({
      kind: 'failover_cluster',
      name: c.name,
      ...judged,
      before: c.owner_before,
      after: done.length > 0 ? done[done.length - 1]!.to : c.owner_before,
      moves,
      modes: [],
    });
  }
  return sequences;
}

const WHY: Record<string, string> = {
  patch_former_primary: 'so the former primary could be patched',
  free_host: 'to free a host',
  failback: 'failback',
};

/** Lines for the terminal and the history text: the sequence, then one line per failover or role move. */
export function rollingLines(s: RollingSequence): string[] {
  const what = s.kind === 'availability_group' ? `Availability group ${s.name}` : `Failover cluster instance ${s.name}`;
  const role = s.kind === 'availability_group' ? 'primary' : 'owner';
  const path = s.before === s.after ? `${role} ${s.before ?? '?'}` : `${role} ${s.before ?? '?'} → ${s.after ?? '?'}`;
  const outcome = s.outcome.replaceAll('_', ' ');
  const lines = [`${what}: ${outcome}${s.reason ? ` (${s.reason})` : ''}; ${path}; ${s.moves.filter((m) => m.status === 'success').length} ${s.kind === 'availability_group' ? 'failover(s)' : 'role move(s)'}`];
  for (const m of s.moves) {
    const done = m.status === 'success';
    const why = s.kind === 'failover_cluster' && m.why === 'patch_former_primary' ? 'so the former owner could be patched' : (WHY[m.why] ?? m.why);
    lines.push(`    ${m.at ?? '-'}  ${m.from} → ${m.to} (${why})${done ? '' : `: ${m.status}${m.note ? `: ${m.note}` : ''}`}`);
  }
  if (s.modes.length > 0) {
    const back = s.modes.filter((m) => m.restored).map((m) => m.replica);
    const notBack = s.modes.filter((m) => !m.restored).map((m) => m.replica);
    lines.push(`    failover modes set to manual for the run: ${back.length > 0 ? `restored on ${back.join(', ')}` : ''}${notBack.length > 0 ? `${back.length > 0 ? '; ' : ''}NOT restored on ${notBack.join(', ')}` : ''}`);
  }
  return lines;
}
