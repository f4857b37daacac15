/**
 * How long an installer is expected to take on a host, from what history.db has seen. Pure: the
 * samples come in as data, so the plan, the engine's window and the ETA all predict the same way.
 *
 * The prediction is a high percentile (the 90th, nearest rank) of the installer's past durations
 * on comparable hosts, looked for in this order:
 *   1. the same host (it ran this installer before: same hardware, same instances);
 *   2. other hosts where the execution served as many instances (setup with /AllInstances patches
 *      each one, so a host with three instances takes longer than one with one);
 *   3. any host that ran the installer;
 * else the mapping file's `expected_minutes` for the installer, else the configured default
 * (`hotfix.default_expected_minutes`, 30 minutes unless set).
 */

/** One finished installer execution, as history.db recorded it. */
export interface DurationSample {
  readonly server: string;
  /** Installer file name (compared without regard to case). */
  readonly installer: string;
  /** Instances the execution served (steps sharing its execution id). */
  readonly instances: number;
  readonly durationMs: number;
}

export const PREDICTION_SOURCES = ['host_history', 'similar_hosts', 'fleet_history', 'mapping', 'default'] as const;
export type PredictionSource = (typeof PREDICTION_SOURCES)[number];

export interface Prediction {
  readonly ms: number;
  readonly source: PredictionSource;
  /** How many past executions the figure comes from (0 for mapping and default). */
  readonly samples: number;
}

export interface PredictionRequest {
  readonly server: string;
  readonly installer: string;
  readonly instances: number;
  /** The mapping's expected_minutes for this installer, when given. */
  readonly expectedMinutes?: number | null | undefined;
}

/** The percentile used: high, so that a window is rarely overrun by an installer that was let start. */
export const PREDICTION_PERCENTILE = 0.9;
export const DEFAULT_EXPECTED_MINUTES = 30;

export class DurationModel {
  private readonly byInstaller = new Map<string, DurationSample[]>();

  constructor(
    samples: readonly DurationSample[],
    private readonly defaultMs: number = DEFAULT_EXPECTED_MINUTES * 60_000,
    private readonly percentile: number = PREDICTION_PERCENTILE,
  ) {
    for (const s of samples) {
      const key = s.installer.toLowerCase();
      const list = this.byInstaller.get(key);
      if (list) list.push(s);
      else this.byInstaller.set(key, [s]);
    }
  }

  predict(request: PredictionRequest): Prediction {
    const all = this.byInstaller.get(request.installer.toLowerCase()) ?? [];
    const server = request.server.toLowerCase();
    const own = all.filter((s) => s.server.toLowerCase() === server);
    if (own.length > 0) return this.fromSamples(own, 'host_history');
    const similar = all.filter((s) => s.instances === request.instances);
    if (similar.length > 0) return this.fromSamples(similar, 'similar_hosts');
    if (all.length > 0) return this.fromSamples(all, 'fleet_history');
    if (request.expectedMinutes != null && request.expectedMinutes > 0) {
      return { ms: Math.round(request.expectedMinutes * 60_000), source: 'mapping', samples: 0 };
    }
    return { ms: this.defaultMs, source: 'default', samples: 0 };
  }

  private fromSamples(samples: readonly DurationSample[], source: PredictionSource): Prediction {
    return { ms: percentileOf(samples.map((s) => s.durationMs), this.percentile), source, samples: samples.length };
  }
}

/** The nearest-rank percentile (0 < p ≤ 1) of a non-empty list. */
export function percentileOf(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1]!;
}
