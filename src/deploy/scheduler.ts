import { errorMessage, LockLostError } from '../errors.js';
import { describeStorageFailure } from '../store/storageFailure.js';
import type { ActionRow } from '../store/history.js';
import { isFinalActionStatus } from '../store/states.js';
import { type HostEnd, hostFailed, visitHost } from './actions/hostVisit.js';
import { handlerOf } from './actions/kinds.js';
import type { ActionCall, HostContext } from './actions/types.js';
import type { DeployContext } from './context.js';
import type { RunGraph } from './graph/runGraph.js';

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
 * out of service at once: a restart waits while another host of its group is between its restart and
 * the end of its wait_healthy.
 */
export function oneOutOfServicePerGroup(groupsOf: (server: string) => readonly string[]): StartRule {
  return {
    name: 'one host per group out of service',
    holds(action, view) {
      if (action.kind !== 'restart' || action.status !== 'pending') return null;
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
    for (const a of this.graph.ofHost(server)) {
      if (a.kind === 'restart' && (a.status === 'running' || a.status === 'success' || a.status === 'interrupted')) out = true;
      if (a.kind === 'wait_healthy' && out && isFinalActionStatus(a.status)) out = false;
    }
    return out;
  }

  runningActions(): readonly ActionRow[] {
    return this.hosts.flatMap((h) => (h.running ? [h.running] : []));
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
    const session = host.context.session;
    host.context.session = null;
    if (session) {
      this.closing.push(
        session.close().catch((error: unknown) => this.ctx.observer.log('warn', `${host.context.server}: closing the session failed: ${errorMessage(error)}`)),
      );
    }
  }
}
