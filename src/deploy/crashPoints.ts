/**
 * Named moments in a deployment where the fault-injection tests kill the process, as a power cut or
 * `kill -9` would. Inert unless AUTODBAUDIT_CRASH_AT is set (`name` or `name:n` for the n-th pass),
 * which only the test suite does; the check is one string comparison.
 */
const spec = process.env.AUTODBAUDIT_CRASH_AT;
const [crashName, crashCount] = spec ? [spec.split(':')[0], Number(spec.split(':')[1] ?? '1')] : [undefined, 0];
let passes = 0;

/** The moments of the actions of availability groups and FCIs (reached only by runs that have them). */
export const ROLLING_CRASH_POINTS = [
  'failover-mode-recorded',
  'failover-mode-set',
  'sync-wait-polling',
  'replica-synchronized',
  'failover-recorded',
  'failover-done',
  'role-move-recorded',
  'role-moved',
  'restore-recorded',
  'restore-done',
] as const;

export const CRASH_POINTS = [
  'run-created',
  'target-started',
  'host-reached',
  'preflight-done',
  'staged',
  'step-marked-running',
  'installer-returned',
  'step-recorded',
  'build-verified',
  'target-finished',
  'run-finishing',
  'stage-recorded',
  'wave-started',
  'wave-finished',
  'wave-decided',
  'restart-recorded',
  'restart-requested',
  'wait-healthy-polling',
  'host-healthy',
  ...ROLLING_CRASH_POINTS,
  // In the lab's target side (the simulated transport): the package is extracted, setup not started.
  'setup-extracted',
  'alongside-recorded',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export function crashPoint(name: CrashPoint): void {
  if (crashName !== name) return;
  passes++;
  if (passes === crashCount) process.kill(process.pid, 'SIGKILL');
}
