import { formatMinutes, formatSpan } from '../predict/format.js';
import type { History } from '../store/history.js';
import type { HostContext } from './actions/types.js';
import type { RunPredictions } from './runPredictions.js';

/** Why work may not start now, and how long it was predicted to take. */
export interface WindowRefusal {
  readonly reason: string;
  readonly neededMs: number;
}

/**
 * The maintenance window (`maintenance_window.end`, `--window-end`): nothing starts whose predicted
 * duration would take it past the end. A host not yet started is admitted only when all its
 * remaining installers fit; each later installer on a started host is checked again before it starts.
 */
export class MaintenanceWindow {
  private readonly refusals = new Map<string, WindowRefusal>();

  constructor(
    readonly endMs: number,
    private readonly predictions: RunPredictions,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Checked before a host's first action: its whole remaining work must fit. */
  refusesHost(history: History, host: HostContext): WindowRefusal | null {
    const pending = host.work.groups.filter((g) => history.stepsOfExecution(g.executionId).some((s) => s.status === 'pending')).map((g) => g.executionId);
    return this.check(host.server, pending, 'its work');
  }

  /** Checked before each installer of a host already started. */
  refusesInstall(host: HostContext, executionId: string): WindowRefusal | null {
    return this.check(host.server, [executionId], 'the installer');
  }

  /** The refusal last given for a host, for recording its deferral. */
  lastRefusal(server: string): WindowRefusal | undefined {
    return this.refusals.get(server.toLowerCase());
  }

  private check(server: string, executionIds: readonly string[], what: string): WindowRefusal | null {
    const neededMs = executionIds.reduce((total, id) => total + this.predictions.ms(id), 0);
    const now = this.clock();
    if (now + neededMs <= this.endMs) return null;
    const left = this.endMs - now;
    // A resumed run keeps its window, which may have closed while it was interrupted.
    const when = left > 0 ? `ends at ${new Date(this.endMs).toISOString()}, ${formatMinutes(left / 60_000)} from now` : `ended at ${new Date(this.endMs).toISOString()}, ${formatSpan(-left / 60_000)} ago`;
    const refusal = {
      neededMs,
      reason: `${server}: not started: the maintenance window ${when}, and ${what} needs about ${formatMinutes(neededMs / 60_000)} (${this.predictions.describe(executionIds)}); deferred to the next window: run --deploy-hotfixes --retry-failed then`,
    };
    this.refusals.set(server.toLowerCase(), refusal);
    return refusal;
  }
}
