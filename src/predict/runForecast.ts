import type { WaveSpec } from '../config/schemas.js';
import { DurationModel, type DurationSample, type Prediction } from './durations.js';
import { forecastSchedule, type ScheduleForecast } from './schedule.js';
import { type AssignedWave, assignWaves } from './waves.js';

/** One host's remaining installers, as the plan or a recorded run has them. */
export interface HostWorkForecastInput {
  readonly server: string;
  readonly tags: readonly string[];
  readonly installers: readonly { installer: string; instances: number; expectedMinutes: number | null | undefined }[];
}

export interface RunForecastSettings {
  readonly concurrency: number;
  readonly startMs: number;
  readonly windowEndMs: number | null;
  /** The configured waves; none: the run is one wave. */
  readonly waves: readonly WaveSpec[] | undefined;
  readonly defaultExpectedMinutes: number;
}

export interface RunForecast {
  readonly schedule: ScheduleForecast;
  readonly waves: readonly AssignedWave[];
  /** Lower-case host name → the prediction of each of its installers, in order. */
  readonly predictions: ReadonlyMap<string, readonly (Prediction & { installer: string })[]>;
  readonly warnings: readonly string[];
}

/** The whole run predicted before it starts: durations from history, waves assigned, the schedule laid out. */
export function forecastRun(hosts: readonly HostWorkForecastInput[], samples: readonly DurationSample[], settings: RunForecastSettings): RunForecast {
  const model = new DurationModel(samples, settings.defaultExpectedMinutes * 60_000);
  const withWork = hosts.filter((h) => h.installers.length > 0);
  const assignment = settings.waves && settings.waves.length > 0 ? assignWaves(settings.waves, withWork) : null;
  const waves: readonly AssignedWave[] = assignment?.waves ?? [
    { position: 0, name: 'all', maxFailed: Number.MAX_SAFE_INTEGER, soakMinutes: 0, servers: withWork.map((h) => h.server) },
  ];
  const predictions = new Map<string, (Prediction & { installer: string })[]>();
  for (const h of withWork) {
    predictions.set(
      h.server.toLowerCase(),
      h.installers.map((i) => ({ installer: i.installer, ...model.predict({ server: h.server, installer: i.installer, instances: i.instances, expectedMinutes: i.expectedMinutes }) })),
    );
  }
  const schedule = forecastSchedule({
    hosts: withWork.map((h) => ({
      server: h.server,
      wave: assignment?.waveOf.get(h.server.toLowerCase()) ?? 0,
      installersMs: predictions.get(h.server.toLowerCase())!.map((p) => p.ms),
    })),
    waves: waves.map((w) => ({ name: w.name, soakMs: w.soakMinutes * 60_000 })),
    concurrency: settings.concurrency,
    startMs: settings.startMs,
    windowEndMs: settings.windowEndMs,
  });
  return { schedule, waves, predictions, warnings: assignment?.warnings ?? [] };
}
