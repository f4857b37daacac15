import type { Config } from '../config/load.js';
import { displayPath } from '../config/paths.js';
import type { HostPlan } from '../plan/types.js';
import type { KnownTarget } from '../inventory/targets.js';
import type { DurationSample } from '../predict/durations.js';
import { clock, formatMinutes, formatSpan } from '../predict/format.js';
import { forecastRun, type HostWorkForecastInput, type RunForecast } from '../predict/runForecast.js';

/** What the plan adds about time: the expected makespan of the fleet, the waves, and the window. */
export interface PlanSchedule {
  readonly concurrency: number;
  readonly starts_at: string;
  readonly expected_end: string;
  readonly expected_makespan_minutes: number;
  readonly window_end: string | null;
  /** Null without a window. */
  readonly fits_window: boolean | null;
  /** Expected start and end of each wave, in minutes from `starts_at`. */
  readonly waves: readonly { name: string; hosts: number; max_failed: number | null; soak_minutes: number; start_minute: number; end_minute: number }[];
  /** Expected start and end of each host, in minutes from `starts_at` (null when deferred). */
  readonly hosts: readonly {
    server: string;
    wave: string;
    expected_minutes: number;
    start_minute: number | null;
    end_minute: number | null;
    deferred: boolean;
    installers: readonly { installer: string; expected_minutes: number; source: string; samples: number }[];
  }[];
}

/** The window's end: --window-end, else maintenance_window.end, else none. */
export function windowEndOf(optionMs: number | undefined, config: Config): number | null {
  if (optionMs !== undefined) return optionMs;
  const end = config.settings.maintenance_window?.end;
  return end ? Date.parse(end) : null;
}

/** When the window has already closed: where its end came from, when, and how long ago; else null. */
export function endedWindowText(optionMs: number | undefined, config: Config, now: number): string | null {
  const end = windowEndOf(optionMs, config);
  if (end === null || end > now) return null;
  const source = optionMs !== undefined ? '--window-end' : `${displayPath(config.files.auditConfig)}: hotfix.maintenance_window.end`;
  return `${source}: the maintenance window ended at ${new Date(end).toISOString()}, ${formatSpan((now - end) / 60_000)} ago`;
}

/** Each plan host's installers with the instances they serve, and the host's tags. */
export function planHostsForForecast(hosts: readonly HostPlan[], targets: readonly KnownTarget[]): HostWorkForecastInput[] {
  const tags = new Map<string, Set<string>>();
  for (const t of targets) {
    const key = t.server.toLowerCase();
    const set = tags.get(key) ?? new Set<string>();
    for (const tag of t.tags) set.add(tag);
    tags.set(key, set);
  }
  return hosts.map((h) => ({
    server: h.server,
    tags: [...(tags.get(h.server.toLowerCase()) ?? [])],
    installers: h.steps.map((s) => ({ installer: s.installer, instances: s.targets.length, expectedMinutes: s.expectedMinutes })),
  }));
}

export function planSchedule(forecast: RunForecast, concurrency: number, windowEndMs: number | null, configuredWaves: boolean): PlanSchedule {
  const { schedule } = forecast;
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  const waveName = (position: number): string => forecast.waves[position]?.name ?? 'all';
  return {
    concurrency,
    starts_at: iso(schedule.startMs)!,
    expected_end: iso(schedule.endMs)!,
    expected_makespan_minutes: minutes(schedule.makespanMs),
    window_end: iso(windowEndMs),
    fits_window: schedule.fits,
    waves: configuredWaves
      ? schedule.waves.map((w, i) => ({
          name: w.name,
          hosts: w.hosts,
          max_failed: forecast.waves[i]!.maxFailed,
          soak_minutes: forecast.waves[i]!.soakMinutes,
          start_minute: minutes(w.startMs - schedule.startMs),
          end_minute: minutes(w.endMs - schedule.startMs),
        }))
      : [],
    hosts: schedule.hosts.map((h) => ({
      server: h.server,
      wave: waveName(h.wave),
      expected_minutes: minutes(h.neededMs),
      start_minute: h.startMs === null ? null : minutes(h.startMs - schedule.startMs),
      end_minute: h.endMs === null ? null : minutes(h.endMs - schedule.startMs),
      deferred: h.deferred,
      installers: (forecast.predictions.get(h.server.toLowerCase()) ?? []).map((p) => ({
        installer: p.installer,
        expected_minutes: minutes(p.ms),
        source: p.source,
        samples: p.samples,
      })),
    })),
  };
}

const SOURCE_TEXT: Record<string, string> = {
  host_history: 'this host before',
  similar_hosts: 'hosts with as many instances',
  fleet_history: 'other hosts',
  mapping: 'expected_minutes',
  default: 'default',
};

/** The schedule as the operator reads it under the plan. */
export function formatSchedule(s: PlanSchedule): string {
  if (s.hosts.length === 0) return 'Schedule: nothing to install.';
  const lines: string[] = [];
  const window =
    s.window_end === null
      ? 'no maintenance window set'
      : `window ends ${clock(s.window_end)}: ${s.fits_window ? 'fits' : `does NOT fit: ${s.hosts.filter((h) => h.deferred).length} host(s) would be deferred`}`;
  lines.push(
    `Schedule: ${s.hosts.length} host(s), ${s.concurrency} at once; expected makespan ${formatMinutes(s.expected_makespan_minutes)}, ending about ${clock(s.expected_end)}; ${window}`,
  );
  for (const w of s.waves) {
    lines.push(
      `  wave ${w.name}: ${w.hosts} host(s), ${at(s, w.start_minute)} → ${at(s, w.end_minute)}; may fail: ${w.max_failed}${w.soak_minutes > 0 ? `; then ${formatMinutes(w.soak_minutes)} soak` : ''}`,
    );
  }
  for (const h of s.hosts) {
    const sources = [...new Set(h.installers.map((i) => SOURCE_TEXT[i.source] ?? i.source))].join(', ');
    const when = h.deferred ? 'DEFERRED: would not finish inside the window' : `${at(s, h.start_minute!)} → ${at(s, h.end_minute!)}`;
    lines.push(`  ${h.server}${s.waves.length > 0 ? ` [${h.wave}]` : ''}: ${formatMinutes(h.expected_minutes)} (${sources}); ${when}`);
  }
  return lines.join('\n');
}

export function forecastForPlan(
  config: Config,
  hosts: readonly HostPlan[],
  targets: readonly KnownTarget[],
  samples: readonly DurationSample[],
  options: { concurrency: number; windowEndMs: number | null; startMs?: number },
): { forecast: RunForecast; schedule: PlanSchedule } {
  const forecast = forecastRun(planHostsForForecast(hosts, targets), samples, {
    concurrency: options.concurrency,
    startMs: options.startMs ?? Date.now(),
    windowEndMs: options.windowEndMs,
    waves: config.settings.waves,
    defaultExpectedMinutes: config.settings.default_expected_minutes,
  });
  return { forecast, schedule: planSchedule(forecast, options.concurrency, options.windowEndMs, (config.settings.waves ?? []).length > 0) };
}

function at(s: PlanSchedule, minute: number): string {
  return clock(new Date(Date.parse(s.starts_at) + minute * 60_000).toISOString());
}

function minutes(ms: number): number {
  // Four decimals (6 ms): lab runs and benchmarks work in seconds; the text rounds further for people.
  return Math.round((ms / 60_000) * 10_000) / 10_000;
}

export { clock, formatMinutes };
