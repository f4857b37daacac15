import type { ActionKind } from '../../store/states.js';
import { installAction } from './install.js';
import { preflightAction } from './preflight.js';
import { restartAction } from './restart.js';
import { failoverAction } from './failover.js';
import { moveRoleAction } from './moveRole.js';
import { restoreAction } from './restore.js';
import { setFailoverModeAction } from './setFailoverMode.js';
import { syncWaitAction } from './syncWait.js';
import type { ActionKindHandler, GroupActionHandler } from './types.js';
import { verifyAction } from './verify.js';
import { waitHealthyAction } from './waitHealthy.js';

/** The handler of each action kind the engine carries out; a kind without one stops its run with a clear error. */
const HANDLERS: Partial<Record<ActionKind, ActionKindHandler>> = {
  preflight: preflightAction,
  install: installAction,
  verify: verifyAction,
  restart: restartAction,
  wait_healthy: waitHealthyAction,
};

export function handlerOf(kind: ActionKind): ActionKindHandler {
  const handler = HANDLERS[kind];
  if (!handler) throw new Error(`the run graph holds a ${kind} action, which this version of the tool does not carry out`);
  return handler;
}

/** The handler of each kind of action a group or FCI has (recorded with the server `ag:…` or `fci:…`). */
const GROUP_HANDLERS: Partial<Record<ActionKind, GroupActionHandler>> = {
  set_failover_mode: setFailoverModeAction,
  failover: failoverAction,
  move_role: moveRoleAction,
  restore: restoreAction,
  wait_healthy: syncWaitAction,
};

export function groupHandlerOf(kind: ActionKind): GroupActionHandler {
  const handler = GROUP_HANDLERS[kind];
  if (!handler) throw new Error(`the run graph holds a ${kind} action of a group, which this version of the tool does not carry out`);
  return handler;
}
