import { clock } from '../predict/format.js';
import { forecastSchedule } from '../predict/schedule.js';
import type { History } from '../store/history.js';
import { isFinalTargetStatus } from '../store/states.js';
import type { HostWork } from './hostWork.js';
import type { RunPredictions } from './runPredictions.js';

export interface EtaSummary {
  /** Expected end of the run. */
  readonly runEndMs: number;
  /** The wave being patched now (or soaking), and its expected end; null without waves. */
  readonly wave: { readonly name: string; readonly endMs: number } | null;
  /** Installer executions not yet finished. */
  readonly installersLeft: number;
}

/**
 * The expected end of the run and of its current wave, from the same predictions as the plan and the
 * window, recomputed from history.db's state: finished work takes no time, a running installer its
 * predicted time less what has passed, pending work its prediction, in the scheduler's order.
 */
export function estimateRun(history: History, runId: number, work: readonly HostWork[], predictions: RunPredictions, concurrency: number, now: number): EtaSummary {
  const waves = history.waves(runId);
  const waveOfServer = new Map<string, number>();
  for (const t of history.targets(runId)) if (t.wave != null) waveOfServer.set(t.server.toLowerCase(), t.wave);
  let installersLeft = 0;
  const hosts = work.flatMap((host) => {
    if (history.targetsOfHost(runId, host.server).every((t) => isFinalTargetStatus(t.status))) return [];
    let running: number | undefined;
    const pending: number[] = [];
    for (const group of host.groups) {
      const steps = history.stepsOfExecution(group.executionId);
      const status = steps[0]?.status;
      const predicted = predictions.ms(group.executionId);
      if (status === 'pending') pending.push(predicted);
      else if (status === 'running' || status === 'interrupted') {
        const started = Date.parse(steps[0]?.started_at ?? '') || now;
        running = Math.max(0, predicted - (now - started));
      } else continue;
      installersLeft++;
    }
    if (running === undefined && pending.length === 0) return [];
    const wave = waveOfServer.get(host.server.toLowerCase()) ?? 0;
    return [{ server: host.server, wave, installersMs: pending, runningRemainingMs: running === undefined ? undefined : running + pending.reduce((a, b) => a + b, 0) }];
  });
  const waveInputs =
    waves.length === 0
      ? [{ name: 'all', soakMs: 0 }]
      : waves.map((w, i) => {
          const decided = w.status === 'passed' || w.status === 'overridden' || w.status === 'halted';
          const soaking = w.status === 'soaking';
          const last = i === waves.length - 1;
          const soakEnd = soaking && w.soak_started_at ? Date.parse(w.soak_started_at) + (last ? 0 : w.soak_minutes * 60_000) : now;
          return {
            name: w.name,
            soakMs: w.soak_minutes * 60_000,
            done: decided || soaking,
            soakRemainingMs: soaking ? Math.max(0, soakEnd - now) : 0,
          };
        });
  const forecast = forecastSchedule({ hosts, waves: waveInputs, concurrency, startMs: now, windowEndMs: null });
  const current = waves.findIndex((w) => w.status === 'running' || w.status === 'soaking' || w.status === 'pending');
  const wave =
    current < 0 || waves.length === 0
      ? null
      : { name: waves[current]!.name, endMs: Math.max(forecast.waves[current]!.endMs, forecast.waves[current]!.releaseMs) };
  return { runEndMs: Math.max(forecast.endMs, ...forecast.waves.map((w) => w.releaseMs)), wave, installersLeft };
}

export function formatEta(eta: EtaSummary): string {
  const wave = eta.wave ? `; wave ${eta.wave.name} expected to end about ${clock(new Date(eta.wave.endMs).toISOString())}` : '';
  return `ETA: run expected to end about ${clock(new Date(eta.runEndMs).toISOString())}${wave} (${eta.installersLeft} installer(s) left)`;
}
