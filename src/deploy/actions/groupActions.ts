import type { EventLevel } from '../../store/states.js';
import { label } from '../groupStop.js';
import type { GroupCall } from './types.js';

/** Records a group action skipped with the reason; `stop` marks a skip that stops the group's rolling update. */
export function skipGroupAction({ ctx, action }: GroupCall, reason: string, stop: boolean, what: string): void {
  const level: EventLevel = stop ? 'warn' : 'info';
  ctx.history.actionTransition(
    ctx.runId,
    action.id,
    { from: ['pending'], to: 'skipped', error: reason, ...(stop ? { detail: { stop: `${label(action)} stopped: ${reason}` } } : {}) },
    { server: action.server, level, kind: `${action.kind}_skipped`, message: `${label(action)}: ${what} not done: ${reason}` },
  );
}
