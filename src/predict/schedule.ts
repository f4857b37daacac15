/**
 * The expected course of a run, from predicted durations: which host starts when, when each wave and
 * the whole run end, and what a maintenance window leaves out. Pure; the plan shows it before a run,
 * and the engine asks it again as installers finish, for the expected end (ETA).
 *
 * It follows the engine's own rules: waves one after another (each wave's hosts all finish, then its
 * soak time passes, before the next starts; the last wave has no soak, since nothing follows it);
 * within a wave, longest expected work first into the first free of `concurrency` slots; a host's
 * installers one after another; and with a window, a host starts only when its remaining work is
 * predicted to end by the window's end (otherwise it is deferred and takes no slot).
 */

export interface HostForecastInput {
  readonly server: string;
  /** Position of the host's wave (0 without waves). */
  readonly wave: number;
  /** Predicted milliseconds of each installer still to run on the host, in order. */
  readonly installersMs: readonly number[];
  /** Already running (for an ETA mid-run): milliseconds it is still expected to need; it holds a slot from the start. */
  readonly runningRemainingMs?: number | undefined;
}

export interface WaveForecastInput {
  readonly name: string;
  readonly soakMs: number;
  /** Set when the wave has already finished (for an ETA mid-run): its hosts take no time. */
  readonly done?: boolean | undefined;
  /** A wave already soaking (for an ETA mid-run): the soak time left. */
  readonly soakRemainingMs?: number | undefined;
}

export interface ScheduleInput {
  readonly hosts: readonly HostForecastInput[];
  /** In order; at least one (a run without waves is one wave). */
  readonly waves: readonly WaveForecastInput[];
  readonly concurrency: number;
  readonly startMs: number;
  readonly windowEndMs: number | null;
}

export interface HostForecast {
  readonly server: string;
  readonly wave: number;
  /** Predicted milliseconds of its remaining work. */
  readonly neededMs: number;
  /** Null when deferred by the window. */
  readonly startMs: number | null;
  readonly endMs: number | null;
  readonly deferred: boolean;
}

export interface WaveForecast {
  readonly name: string;
  readonly startMs: number;
  /** When its last host is expected to finish (before the soak). */
  readonly endMs: number;
  /** When the next wave may start: after the soak. */
  readonly releaseMs: number;
  readonly hosts: number;
}

export interface ScheduleForecast {
  readonly startMs: number;
  /** Expected end of the run: the last host's end. */
  readonly endMs: number;
  readonly makespanMs: number;
  /** Null without a window; otherwise whether every host is expected to fit. */
  readonly fits: boolean | null;
  readonly hosts: readonly HostForecast[];
  readonly waves: readonly WaveForecast[];
}

export function forecastSchedule(input: ScheduleInput): ScheduleForecast {
  const concurrency = Math.max(1, input.concurrency);
  const hosts: HostForecast[] = [];
  const waves: WaveForecast[] = [];
  let waveStart = input.startMs;
  let lastEnd = input.startMs;
  input.waves.forEach((wave, position) => {
    const members = input.hosts
      .map((h, index) => ({ h, index, needed: h.runningRemainingMs ?? sum(h.installersMs) }))
      .filter(({ h }) => h.wave === position);
    // Running hosts hold their slots first; then longest expected work first, ties in given order.
    const running = members.filter(({ h }) => h.runningRemainingMs !== undefined);
    const waiting = members.filter(({ h }) => h.runningRemainingMs === undefined).sort((a, b) => b.needed - a.needed || a.index - b.index);
    const slots: number[] = Array.from({ length: concurrency }, () => waveStart);
    let waveEnd = waveStart;
    const place = (server: string, needed: number, mustStart: boolean): void => {
      let slot = 0;
      for (let i = 1; i < slots.length; i++) if (slots[i]! < slots[slot]!) slot = i;
      const start = slots[slot]!;
      if (!mustStart && input.windowEndMs !== null && start + needed > input.windowEndMs) {
        // Never started: its slot stays free for the next host that fits.
        hosts.push({ server, wave: position, neededMs: needed, startMs: null, endMs: null, deferred: true });
        return;
      }
      slots[slot] = start + needed;
      waveEnd = Math.max(waveEnd, start + needed);
      hosts.push({ server, wave: position, neededMs: needed, startMs: start, endMs: start + needed, deferred: false });
    };
    if (!wave.done) {
      for (const { h, needed } of running) place(h.server, needed, true);
      for (const { h, needed } of waiting) place(h.server, needed, false);
    }
    const last = position === input.waves.length - 1;
    const soak = wave.done ? (wave.soakRemainingMs ?? 0) : last ? 0 : wave.soakMs;
    const started = members.length > 0 && !wave.done;
    waves.push({ name: wave.name, startMs: waveStart, endMs: waveEnd, releaseMs: waveEnd + (started || wave.done ? soak : 0), hosts: members.length });
    lastEnd = Math.max(lastEnd, waveEnd);
    waveStart = waves.at(-1)!.releaseMs;
  });
  const fits = input.windowEndMs === null ? null : hosts.every((h) => !h.deferred);
  return { startMs: input.startMs, endMs: lastEnd, makespanMs: lastEnd - input.startMs, fits, hosts, waves };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
