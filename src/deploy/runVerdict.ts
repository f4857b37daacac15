import type { TargetRow } from '../store/history.js';

// What a run's targets add up to: its exit code, and which targets count as problems (waves and
// the deployment's summary ask the same question).

/**
 * The exit code a run's targets call for: 0 when every target succeeded or needed nothing
 * (unsupported and unmapped instances are reported, not failures); 3 when no host could be reached
 * at all; 1 when any target failed, ended partial, or was skipped for a problem.
 */
export function judgeRun(targets: readonly TargetRow[]): { exitCode: 0 | 1 | 3; summary: string } {
  const counts = new Map<string, number>();
  for (const t of targets) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  const summary = [...counts.entries()].map(([status, n]) => `${n} ${status}`).join(', ') || 'no targets';
  const tried = targets.filter((t) => t.reached !== null);
  if (tried.length > 0 && tried.every((t) => t.reached === 0)) return { exitCode: 3, summary };
  const problem = targets.some((t) => isProblem(t));
  return { exitCode: problem ? 1 : 0, summary };
}

/** A target that did not end well: failed, partial, unfinished, or skipped for a reason other than "nothing to do". */
export function isProblem(t: TargetRow): boolean {
  switch (t.status) {
    case 'success':
      return false;
    case 'partial':
    case 'failed':
    case 'pending':
    case 'in_progress':
      return true;
    case 'skipped':
      return t.plan_status === 'pending' || t.plan_status === 'unreachable' || t.plan_status === 'invalid_version';
    default: {
      const never: never = t.status;
      throw new Error(`unknown target status ${String(never)}`);
    }
  }
}
