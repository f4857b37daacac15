import type { ActionKind } from '../../store/states.js';
import { installAction } from './install.js';
import { preflightAction } from './preflight.js';
import { restartAction } from './restart.js';
import type { ActionKindHandler } from './types.js';
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
