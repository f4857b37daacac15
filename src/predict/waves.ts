import type { WaveSpec } from '../config/schemas.js';

/** A wave as a run uses it: its position, its rules, and the hosts that fall in it. */
export interface AssignedWave {
  readonly position: number;
  readonly name: string;
  readonly maxFailed: number;
  readonly soakMinutes: number;
  /** Host names, as the plan spells them. */
  readonly servers: readonly string[];
}

export interface WaveAssignment {
  readonly waves: readonly AssignedWave[];
  /** Lower-case host name → wave position. */
  readonly waveOf: ReadonlyMap<string, number>;
  readonly warnings: readonly string[];
}

/** The implicit last wave for hosts that no configured wave takes. */
export const REST_WAVE_NAME = 'rest';

/**
 * Puts each host in the first wave that names it (by host name in `servers`, or by one of its
 * targets' tags in `tags`); the wave without `servers` and `tags` (the last, as the loader checks)
 * takes the rest. Hosts that no wave takes form an implicit last wave named "rest", with a warning,
 * so that nothing is patched outside the order the operator can see in the plan.
 */
export function assignWaves(specs: readonly WaveSpec[], hosts: readonly { server: string; tags: readonly string[] }[]): WaveAssignment {
  const warnings: string[] = [];
  const members: string[][] = specs.map(() => []);
  const rest: string[] = [];
  const waveOf = new Map<string, number>();
  const known = new Set(hosts.map((h) => h.server.toLowerCase()));
  specs.forEach((spec) => {
    for (const server of spec.servers ?? []) {
      if (!known.has(server.toLowerCase())) warnings.push(`wave ${spec.name}: host ${server} is not in this plan`);
    }
  });
  for (const host of hosts) {
    const tags = new Set(host.tags.map((t) => t.toLowerCase()));
    const position = specs.findIndex((spec) => {
      if (spec.servers === undefined && spec.tags === undefined) return true;
      if (spec.servers?.some((s) => s.toLowerCase() === host.server.toLowerCase())) return true;
      return spec.tags?.some((t) => tags.has(t.toLowerCase())) ?? false;
    });
    if (position >= 0) {
      members[position]!.push(host.server);
      waveOf.set(host.server.toLowerCase(), position);
    } else rest.push(host.server);
  }
  const waves: AssignedWave[] = specs.map((spec, position) => ({
    position,
    name: spec.name,
    maxFailed: spec.max_failed,
    soakMinutes: spec.soak_minutes,
    servers: members[position]!,
  }));
  if (rest.length > 0) {
    const name = restWaveName(specs);
    warnings.push(`${rest.length} host(s) fall in no configured wave (${rest.slice(0, 10).join(', ')}${rest.length > 10 ? ', …' : ''}); they run last, as wave "${name}"`);
    const position = waves.length;
    for (const server of rest) waveOf.set(server.toLowerCase(), position);
    waves.push({ position, name, maxFailed: 0, soakMinutes: 0, servers: rest });
  }
  return { waves, waveOf, warnings };
}

/**
 * "rest", or the first of "rest-2", "rest-3", … that no configured wave is called (names compare
 * case-insensitively, as the loader compares them): a wave the operator named "rest" that takes only
 * some hosts must not share its name with the implicit one in the plan, the log and history.db.
 */
export function restWaveName(specs: readonly { name: string }[]): string {
  const taken = new Set(specs.map((spec) => spec.name.toLowerCase()));
  if (!taken.has(REST_WAVE_NAME)) return REST_WAVE_NAME;
  for (let n = 2; ; n++) if (!taken.has(`${REST_WAVE_NAME}-${n}`)) return `${REST_WAVE_NAME}-${n}`;
}
