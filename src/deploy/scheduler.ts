import { errorMessage, LockLostError } from '../errors.js';
import { describeStorageFailure } from '../store/storageFailure.js';
import type { ActionRow } from '../store/history.js';
import { isFinalActionStatus } from '../store/states.js';
import { type HostEnd, hostFailed, unfinishedTargetIds, visitHost } from './actions/hostVisit.js';
import { groupHandlerOf, handlerOf } from './actions/kinds.js';
import { groupsOf } from './actions/clusterWorld.js';
import { detailOf, textOf } from './actions/detail.js';
import { changeRestoredBy } from './actions/restore.js';
import type { ActionCall, GroupCall, HostContext } from './actions/types.js';
import type { DeployContext } from './context.js';
import { isGroupServer } from './graph/rollingGraph.js';
import type { RunGraph } from './graph/runGraph.js';
import { groupStopReason, label } from './groupStop.js';

function sameServer(a: string | null, b: string): boolean {
  return a !== null && a.toLowerCase() === b.toLowerCase();
}

/** What the scheduler knows of each host while it runs. */
interface HostState {
  readonly context: HostContext;
  /** The action running on this host now; a host runs one action at a time. */
  running: ActionRow | null;
  /** Counts toward max_concurrent_servers: visited, with work left that does not wait on other hosts. */
  busy: boolean;
  visited: boolean;
  end: HostEnd | null;
}

/** The scheduler's state, as start rules see it. */
export interface SchedulerView {
  readonly graph: RunGraph;
  /** Whether a host is out of service now (between a restart's request and its wait_healthy's end). */
  outOfService(server: string): boolean;
  /** Hosts with an action running now. */
  runningActions(): readonly ActionRow[];
}

/**
 * Never two hosts of one group (an availability group, a failover cluster: `groupsOf` names them)
 * out of service at once: a restart or an installer waits while another host of its group is out of
 * service (between its restart and the end of its wait_healthy; running an installer; patched and
 * not yet SYNCHRONIZED again). The rolling order's edges already keep this; the rule holds it even so.
 */
export function oneOutOfServicePerGroup(groupsOf: (server: string) => readonly string[]): StartRule {
  return {
    name: 'one host per group out of service',
    holds(action, view) {
      if ((action.kind !== 'restart' && action.kind !== 'install') || action.status !== 'pending') return null;
      const mine = groupsOf(action.server);
      if (mine.length === 0) return null;
      for (const other of view.graph.servers()) {
        if (other.toLowerCase() === action.server.toLowerCase() || !view.outOfService(other)) continue;
        const shared = groupsOf(other).find((g) => mine.includes(g));
        if (shared) return `${other} of ${shared} is out of service`;
      }
      return null;
    },
  };
}

/**
 * A rule that holds back an action whose dependencies are met: at most one replica of an
 * availability group or one node of a cluster out of service at once, a maintenance window, a gate.
 * Returns why it holds the action (for the debug log), or null to let it start.
 */
export interface StartRule {
  readonly name: string;
  holds(action: ActionRow, view: SchedulerView): string | null;
}

/**
 * Starts every action whose dependencies are final, within the limits: at most `maxConcurrent`
 * hosts busy at once, one action at a time per host (so one installer per host), and whatever the
 * start rules hold back. Hosts are offered slots in the order given (longest expected work first).
 * Works from history.db's state, so a resumed run is scheduled like a new one.
 */
export class Scheduler implements SchedulerView {
  private readonly hosts: HostState[];
  private busyCount = 0;
  private runningCount = 0;
  /** Group actions (of an availability group or FCI) running now, by id. */
  private readonly runningGroup = new Set<number>();
  private readonly closing: Promise<void>[] = [];
  private finish: (() => void) | null = null;
  /** The first failure of history.db itself (busy past the wait, disk full, read-only), if any. */
  storageFailure: unknown = null;

  constructor(
    private readonly ctx: DeployContext,
    readonly graph: RunGraph,
    hosts: readonly HostContext[],
    private readonly rules: readonly StartRule[] = [],
  ) {
    this.hosts = hosts.map((context) => ({ context, running: null, busy: false, visited: false, end: null }));
  }

  /** Runs until nothing more can start; returns how each host's work ended in this process. */
  async run(): Promise<Map<string, HostEnd>> {
    await new Promise<void>((resolve) => {
      this.finish = resolve;
      this.pump();
    });
    await Promise.all(this.closing);
    return new Map(this.hosts.map((h) => [h.context.server, h.end ?? 'interrupted']));
  }

  outOfService(server: string): boolean {
    let out = false;
    let patched = false;
    for (const a of this.graph.ofHost(server)) {
      if (a.kind === 'restart' && (a.status === 'running' || a.status === 'success' || a.status === 'interrupted')) out = true;
      if (a.kind === 'wait_healthy' && out && isFinalActionStatus(a.status)) out = false;
      if (a.kind === 'install' && (a.status === 'running' || a.status === 'interrupted')) return true;
      if (a.kind === 'install' && a.status !== 'pending' && a.status !== 'skipped') patched = true;
    }
    if (out) return true;
    // Patched, and its replicas not yet SYNCHRONIZED again.
    return patched && this.graph.all().some((a) => a.kind === 'wait_healthy' && isGroupServer(a.server) && sameServer(textOf(detailOf(a), 'host'), server) && !isFinalActionStatus(a.status));
  }

  runningActions(): readonly ActionRow[] {
    return [...this.hosts.flatMap((h) => (h.running ? [h.running] : [])), ...[...this.runningGroup].map((id) => this.graph.get(id))];
  }

  private nextOf(host: HostState): ActionRow | null {
    return this.graph.ofHost(host.context.server).find((a) => !isFinalActionStatus(a.status)) ?? null;
  }

  private call(host: HostState, action: ActionRow): ActionCall {
    return { ctx: this.ctx, host: host.context, graph: this.graph, action };
  }

  /** Starts what may start; called at the beginning and whenever an action ends. */
  private pump(): void {
    let progress = true;
    while (progress) {
      progress = false;
      for (const host of this.hosts) {
        if (host.end !== null || host.running) continue;
        const next = this.nextOf(host);
        if (!next) {
          this.endHost(host, 'finished');
          continue;
        }
        if (!this.graph.dependenciesFinal(next.id)) {
          // Waits on another host's actions: it needs no slot meanwhile.
          this.release(host);
          continue;
        }
        const handler = handlerOf(next.kind);
        const call = this.call(host, next);
        if (next.status === 'pending' && this.heldByGroup(host, next)) {
          progress = true;
          continue;
        }
        if (next.status === 'pending' && this.awaitsRearm(groupsOf(next))) {
          this.release(host);
          continue;
        }
        if (next.status === 'pending') {
          const decision = handler.decide(call);
          if (!decision.run) {
            try {
              handler.skip(call, decision.reason);
            } catch (error) {
              this.failHost(host, next, error);
            }
            this.graph.refreshHost(this.ctx.history, this.ctx.runId, host.context.server);
            progress = true;
            continue;
          }
          if (this.ctx.cancellation.stopStarting && !handler.runsWhileStopping) {
            this.endHost(host, host.visited ? 'interrupted' : 'not_started');
            continue;
          }
        }
        if (!host.busy && this.busyCount >= Math.max(1, this.ctx.settings.maxConcurrent)) continue;
        const held = this.rules.map((r) => r.holds(next, this)).find((why) => why !== null);
        if (held) continue;
        this.start(host, next);
      }
      if (this.pumpGroups()) progress = true;
    }
    if (this.runningCount === 0 && this.finish) {
      // Nothing runs and nothing can start: what is left waits on work that cannot happen in this process.
      for (const host of this.hosts) if (host.end === null) this.endHost(host, host.visited ? 'interrupted' : 'not_started');
      const finish = this.finish;
      this.finish = null;
      finish();
    }
  }

  private start(host: HostState, action: ActionRow): void {
    host.running = action;
    if (!host.busy) {
      host.busy = true;
      this.busyCount++;
    }
    this.runningCount++;
    const handler = handlerOf(action.kind);
    const task = async (): Promise<void> => {
      if (handler.needsSession && host.context.session === null) {
        host.visited = true;
        const visit = await visitHost(this.ctx, host.context, this.ctx.history.actionsOfHost(this.ctx.runId, host.context.server));
        if (visit !== 'open') {
          this.endHost(host, visit);
          return;
        }
      }
      host.visited = true;
      const end = await handler.run(this.call(host, action));
      if (end === 'interrupted') {
        this.ctx.observer.hostFinished(host.context.server, 'interrupted');
        this.endHost(host, 'interrupted');
      }
    };
    task()
      .catch((error: unknown) => this.failHost(host, action, error))
      .finally(() => {
        host.running = null;
        this.runningCount--;
        this.graph.refreshHost(this.ctx.history, this.ctx.runId, host.context.server);
        this.pump();
      });
  }

  /**
   * A clustered host's action whose group's rolling update has stopped: a host not yet begun is held
   * back whole (its targets skipped with the reason, never patched); a further installer of an FCI's
   * chain is skipped. Returns true when it recorded something.
   */
  private heldByGroup(host: HostState, next: ActionRow): boolean {
    const keys = groupsOf(next);
    if (keys.length === 0 || (next.kind !== 'preflight' && next.kind !== 'install')) return false;
    const stop = groupStopReason(this.ctx.history, this.ctx.runId, this.graph, keys);
    if (!stop) return false;
    const server = host.context.server;
    const begun = this.graph.ofHost(server).some((a) => a.kind === 'install' && a.status !== 'pending');
    try {
      if (next.kind === 'preflight' && !begun) {
        const reason = `${server}: not patched: ${stop}`;
        this.ctx.history.skipHost(this.ctx.runId, unfinishedTargetIds(this.ctx, host.context), server, reason, { reached: null, kind: 'host_held_back' });
        this.ctx.history.actionsSkippedOnHost(this.ctx.runId, server, reason);
        this.ctx.observer.hostFinished(server, 'held back (its group stopped)');
      } else if (next.kind === 'install') {
        handlerOf('install').skip(this.call(host, next), `not run: ${stop}`);
      } else {
        return false;
      }
    } catch (error) {
      this.failHost(host, next, error);
    }
    this.graph.refreshHost(this.ctx.history, this.ctx.runId, server);
    return true;
  }

  /**
   * Starts the group actions (set_failover_mode, failover, move_role, restore, the wait for a
   * patched host's replicas) whose dependencies are final, skipping those of a group whose rolling
   * update stopped (but never a restore). While stopping, a group's restore may start before the
   * rest of its work is final, once nothing of the group runs: the failover modes are put back
   * however the run ends. Returns true when it recorded or started something.
   */
  private pumpGroups(): boolean {
    let progress = false;
    const stopping = this.ctx.cancellation.stopStarting;
    for (const action of this.graph.all()) {
      if (!isGroupServer(action.server) || isFinalActionStatus(action.status) || this.runningGroup.has(action.id)) continue;
      const handler = groupHandlerOf(action.kind);
      const call: GroupCall = { ctx: this.ctx, graph: this.graph, action };
      const ready = this.graph.dependenciesFinal(action.id);
      // A restore done early (the run was stopped) is taken up first on resume: it sets the manual mode again.
      const rearm = action.kind === 'restore' && action.status === 'interrupted' && !stopping;
      if (!rearm && action.kind !== 'restore' && this.awaitsRearm(groupsOf(action))) continue;
      if (rearm) {
        // Taken up below.
      } else if (!ready) {
        if (!(stopping && action.kind === 'restore' && action.status === 'pending' && this.restoreMayStartEarly(action))) continue;
      } else if (action.status === 'pending') {
        const stop = action.kind === 'restore' ? null : groupStopReason(this.ctx.history, this.ctx.runId, this.graph, groupsOf(action));
        const decision = stop ? { run: false as const, reason: stop, stop: false } : handler.decide(call);
        if (!decision.run) {
          try {
            handler.skip(call, decision.reason, decision.stop === true);
          } catch (error) {
            this.ctx.observer.log('error', `${label(action)}: recording a skipped ${action.kind} failed: ${errorMessage(error)}`, error);
            if (describeStorageFailure(error) !== null) {
              this.storageFailure ??= error;
              if (!this.ctx.cancellation.stopStarting) this.ctx.cancellation.request();
            }
          }
          this.graph.refreshHost(this.ctx.history, this.ctx.runId, action.server);
          progress = true;
          continue;
        }
        if (stopping && !handler.runsWhileStopping) continue;
      } else if (stopping && !handler.runsWhileStopping && action.status === 'interrupted') {
        continue;
      }
      this.startGroup(action, call);
      progress = true;
    }
    return progress;
  }

  /** A group whose failover modes were restored early (the run was stopped) waits until --resume sets them to manual again. */
  private awaitsRearm(keys: readonly string[]): boolean {
    if (keys.length === 0) return false;
    return this.graph.all().some((a) => a.kind === 'restore' && a.status === 'interrupted' && isGroupServer(a.server) && groupsOf(a).some((g) => keys.includes(g)));
  }

  /** While stopping: a restore whose change was made, once nothing of its group runs in this process. */
  private restoreMayStartEarly(restore: ActionRow): boolean {
    if (changeRestoredBy(this.graph, restore)?.status !== 'success') return false;
    const keys = groupsOf(restore);
    return !this.runningActions().some((a) => groupsOf(a).some((g) => keys.includes(g)));
  }

  private startGroup(action: ActionRow, call: GroupCall): void {
    this.runningGroup.add(action.id);
    this.runningCount++;
    const handler = groupHandlerOf(action.kind);
    handler
      .run(call)
      .catch((error: unknown) => this.groupActionFailed(action, error))
      .finally(() => {
        this.runningGroup.delete(action.id);
        this.runningCount--;
        this.graph.refreshHost(this.ctx.history, this.ctx.runId, action.server);
        this.pump();
      });
  }

  /**
   * A group action that could not be carried out (a host it needed could not be reached, SQL Server
   * or the cluster refused): it fails with the reason, which stops its group's rolling update; its
   * restores still run. A restore that fails says how to put the mode back by hand.
   */
  private groupActionFailed(action: ActionRow, error: unknown): void {
    const { history, runId } = this.ctx;
    if (error instanceof LockLostError || history.lockLost) return;
    if (describeStorageFailure(error) !== null) {
      this.storageFailure ??= error;
      if (!this.ctx.cancellation.stopStarting) this.ctx.cancellation.request();
      return;
    }
    const who = label(action);
    if (this.ctx.cancellation.signal.aborted) {
      // The operator stopped waiting: what it was doing is settled by --resume, which asks the world.
      try {
        if (history.action(action.id).status === 'running') {
          history.actionTransition(runId, action.id, { from: ['running'], to: 'interrupted' }, { server: action.server, level: 'warn', kind: `${action.kind}_interrupted`, message: `${who}: ${action.kind.replaceAll('_', ' ')} interrupted (${errorMessage(error)}); --resume settles it` });
        }
      } catch (recording) {
        this.ctx.observer.log('error', `${who}: recording the interruption failed: ${errorMessage(recording)}`, recording);
      }
      return;
    }
    const d = detailOf(action);
    const byHand =
      action.kind === 'restore'
        ? `; put it back by hand on the primary: ALTER AVAILABILITY GROUP [${String(d.ag)}] MODIFY REPLICA ON N'${String(d.replica).replace(/\\MSSQLSERVER$/i, '')}' WITH (FAILOVER_MODE = ${String(d.to ?? 'automatic').toUpperCase()})`
        : '';
    const message = `${who}: ${action.kind.replaceAll('_', ' ')} failed: ${errorMessage(error)}${byHand}`;
    try {
      const now = history.action(action.id).status;
      if (isFinalActionStatus(now)) return;
      history.actionTransition(runId, action.id, { from: [now], to: 'failed', error: message }, { server: action.server, level: 'error', kind: `${action.kind}_failed`, message, error });
    } catch (recording) {
      this.ctx.observer.log('error', `${who}: recording the failure failed: ${errorMessage(recording)}`, recording);
    }
  }

  /** A broken connection or anything unexpected ends this host only; the other hosts carry on. */
  private failHost(host: HostState, action: ActionRow, error: unknown): void {
    // A process that lost the run lock records nothing more: the new owner settles this host.
    if (error instanceof LockLostError || this.ctx.history.lockLost) {
      this.endHost(host, 'interrupted');
      return;
    }
    // history.db cannot take writes: nothing new may start, since it could not be recorded; the
    // installers already running on other hosts are still waited for (their timeouts enforced).
    if (describeStorageFailure(error) !== null) {
      this.storageFailure ??= error;
      if (!this.ctx.cancellation.stopStarting) this.ctx.cancellation.request();
      this.endHost(host, 'interrupted');
      return;
    }
    try {
      hostFailed(this.ctx, host.context, action, error);
    } catch (recording) {
      this.ctx.observer.log('error', `${host.context.server}: recording the host's failure failed: ${errorMessage(recording)}`, recording);
    }
    this.endHost(host, 'finished');
  }

  private release(host: HostState): void {
    if (!host.busy) return;
    host.busy = false;
    this.busyCount--;
  }

  private endHost(host: HostState, end: HostEnd): void {
    if (host.end !== null) return;
    host.end = end;
    this.release(host);
    for (const node of host.context.nodes?.values() ?? []) {
      const nodeSession = node.session;
      node.session = null;
      if (nodeSession) this.closing.push(nodeSession.close().catch(() => {}));
    }
    const session = host.context.session;
    host.context.session = null;
    if (session) {
      this.closing.push(
        session.close().catch((error: unknown) => this.ctx.observer.log('warn', `${host.context.server}: closing the session failed: ${errorMessage(error)}`)),
      );
    }
  }
}
