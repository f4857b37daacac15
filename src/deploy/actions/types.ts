import type { HostSession, StageResult } from '../../remote/transport.js';
import type { ActionRow } from '../../store/history.js';
import type { ActionKind } from '../../store/states.js';
import type { DeployContext } from '../context.js';
import type { RunGraph } from '../graph/runGraph.js';
import type { HostWork } from '../hostWork.js';

/** One host as this process works on it: how to reach it, its open session, what it has staged. */
export interface HostContext {
  readonly server: string;
  /** The host's work as loaded when the run started or resumed: targets, executions, connection. */
  readonly work: HostWork;
  /** The open session, once the host was reached in this process. */
  session: HostSession | null;
  /** Installers staged in this session, by local path. */
  readonly staged: Map<string, StageResult>;
  /** A failover cluster instance's nodes, reached by their own names while its setup runs on each. */
  nodes?: Map<string, HostContext>;
}

/** What the action is being asked to do, with the graph around it. */
export interface ActionCall {
  readonly ctx: DeployContext;
  readonly host: HostContext;
  readonly graph: RunGraph;
  readonly action: ActionRow;
}

/**
 * How an action's work ended in this process. `done`: the action is final in history.db.
 * `interrupted`: it is left running or interrupted (the operator stopped waiting, the connection
 * broke); `--resume` settles it, and the host's later actions wait.
 */
export type ActionEnd = 'done' | 'interrupted';

/**
 * One kind of action. The scheduler starts an action once its dependencies are final; `decide` then
 * says whether it runs or is skipped, and `run` carries it out, recording each transition before the
 * next effect. An action found `running` or `interrupted` (a crash, a wait given up) goes through
 * `run` as well, which settles it first (src/deploy/settle.ts) and does again only what did not happen.
 */
export interface ActionKindHandler {
  readonly kind: ActionKind;
  /** May still start after the operator's first stop request: it finishes work already begun. */
  readonly runsWhileStopping: boolean;
  /**
   * Works through the host's session, opened by the scheduler's visit of the host (targets marked in
   * progress, the host reached). Kinds that must work while the host is away (a restart, the wait
   * for it) open their own.
   */
  readonly needsSession: boolean;
  /** Run, or skip with the reason (a dependency failed, the policy says it is not needed). */
  decide(call: ActionCall): { readonly run: true } | { readonly run: false; readonly reason: string };
  /** Records the action skipped. */
  skip(call: ActionCall, reason: string): void;
  run(call: ActionCall): Promise<ActionEnd>;
}

/** An action of an availability group or FCI (not of one host): it reaches whichever hosts it needs itself. */
export interface GroupCall {
  readonly ctx: DeployContext;
  readonly graph: RunGraph;
  readonly action: ActionRow;
}

/**
 * One kind of group action (set_failover_mode, failover, move_role, restore, and the wait for a
 * patched host's replicas to be SYNCHRONIZED). Started by the scheduler once its dependencies are
 * final; `run` records the action `running` (with what it found) before it changes anything, and
 * settles an action found `running` or `interrupted` by reading the world first.
 */
export interface GroupActionHandler {
  readonly kind: ActionKind;
  readonly runsWhileStopping: boolean;
  decide(call: GroupCall): { readonly run: true } | { readonly run: false; readonly reason: string; readonly stop?: boolean };
  /** Records the action skipped; `stop`: the group's rolling update stops with this reason. */
  skip(call: GroupCall, reason: string, stop: boolean): void;
  run(call: GroupCall): Promise<ActionEnd>;
}
