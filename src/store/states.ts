import { PLAN_STATUS } from '../plan/types.js';

/**
 * Every state the history records, each from one constant: the TypeScript unions, the SQL CHECK
 * constraints (migrations substitute these lists) and every switch derive from them.
 */

/** A deployment run. `interrupted` runs (Ctrl+C, crash found later) are what `--resume` continues. */
export const RUN_STATUS = ['running', 'interrupted', 'succeeded', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUS)[number];

/**
 * `deploy`: a plan carried out; `retry`: a new run for the failed targets of an earlier one;
 * `stage`: installers copied and verified on their hosts ahead of a window, nothing installed.
 */
export const RUN_MODE = ['deploy', 'retry', 'stage'] as const;
export type RunMode = (typeof RUN_MODE)[number];

export const TARGET_STATUS = ['pending', 'in_progress', 'success', 'partial', 'failed', 'skipped'] as const;
export type TargetStatus = (typeof TARGET_STATUS)[number];

/**
 * `interrupted`: the orchestrator stopped waiting (second Ctrl+C) while the installer may go on on
 * the target; `--resume` settles it by asking the target, like a step found `running` after a crash.
 */
export const STEP_STATUS = ['pending', 'running', 'success', 'failed', 'skipped', 'interrupted'] as const;
export type StepStatus = (typeof STEP_STATUS)[number];

/**
 * A wave of a run: `running` while its hosts are patched; `soaking` once they have all finished,
 * for soak_minutes; then `passed`, or `halted` when more hosts failed than max_failed allows (no
 * later wave starts); `overridden`: a halt the operator chose to go past (--continue-after-halt).
 */
export const WAVE_STATUS = ['pending', 'running', 'soaking', 'passed', 'halted', 'overridden'] as const;
export type WaveStatus = (typeof WAVE_STATUS)[number];

export const EVENT_LEVEL = ['debug', 'info', 'warn', 'error'] as const;
export type EventLevel = (typeof EVENT_LEVEL)[number];

/**
 * The kinds of action a run's graph is made of (src/deploy/actions holds one file per kind). Every
 * kind the design names is listed now, so that the CHECK constraint written by migration 0004 already
 * admits the kinds later work adds code for, without a migration that rebuilds the table.
 */
export const ACTION_KIND = [
  'preflight',
  'install',
  'verify',
  'restart',
  'wait_healthy',
  'set_failover_mode',
  'failover',
  'move_role',
  'wave_gate',
  'restore',
] as const;
export type ActionKind = (typeof ACTION_KIND)[number];

/**
 * An action's state. The same words as a step's: an `install` action's state is its steps' state,
 * `interrupted` is a wait given up while the work may go on on the target (settled on --resume).
 */
export const ACTION_STATUS = ['pending', 'running', 'success', 'failed', 'skipped', 'interrupted'] as const;
export type ActionStatus = (typeof ACTION_STATUS)[number];

/** Final states: nothing more happens to the action in this run. */
export function isFinalActionStatus(status: ActionStatus): boolean {
  return status === 'success' || status === 'failed' || status === 'skipped';
}

/** The lists migrations may name as `{{NAME}}` inside a CHECK constraint. */
export const STATE_LISTS: Readonly<Record<string, readonly string[]>> = {
  RUN_STATUS,
  RUN_MODE,
  TARGET_STATUS,
  STEP_STATUS,
  EVENT_LEVEL,
  PLAN_STATUS,
  WAVE_STATUS,
  ACTION_KIND,
  ACTION_STATUS,
};

export function isFinalTargetStatus(status: TargetStatus): boolean {
  return status === 'success' || status === 'partial' || status === 'failed' || status === 'skipped';
}
