import pLimit from 'p-limit';
import { errorMessage } from '../errors.js';
import type { InventoryEntry } from '../plan/planner.js';
import type { TransportProvider } from '../remote/transports.js';
import type { DiscoveryResult } from '../remote/transport.js';
import type { InstanceAnswer } from '../topology/assemble.js';
import type { KnownTarget } from './targets.js';

export interface DiscoveryOutcome {
  readonly inventory: InventoryEntry[];
  /** What a live query found, per target, to be recorded in `servers`. */
  readonly found: { target: KnownTarget; version: string | null; edition: string | null }[];
  readonly warnings: string[];
  /** Each answering instance's availability groups and failover cluster facts. */
  readonly topology: InstanceAnswer[];
}

/** Inventory from recorded versions only (`--offline`). */
export function recordedInventory(targets: readonly KnownTarget[]): InventoryEntry[] {
  return targets.map((t) => ({
    server: t.server,
    instance: t.instance,
    version: t.recordedVersion,
    edition: t.recordedEdition,
    reachable: true,
    transport: t.transport,
    port: t.port,
    credential: t.credential,
  }));
}

/**
 * Asks every host, in parallel up to `concurrency`, which instances it has and at what build.
 * A host that cannot be reached keeps its recorded version, with a warning, and is `unreachable`.
 */
export async function discoverInventory(
  targets: readonly KnownTarget[],
  transports: TransportProvider,
  concurrency: number,
  signal?: AbortSignal,
): Promise<DiscoveryOutcome> {
  const hosts = new Map<string, KnownTarget[]>();
  for (const t of targets) {
    const key = t.server.toLowerCase();
    hosts.set(key, [...(hosts.get(key) ?? []), t]);
  }
  const limit = pLimit(Math.max(1, concurrency));
  const results = new Map<string, { ok: true; result: DiscoveryResult } | { ok: false; reason: string }>();
  const topology: InstanceAnswer[] = [];
  const warnings: string[] = [];
  await Promise.all(
    [...hosts.entries()].map(([key, hostTargets]) =>
      limit(async () => {
        const first = hostTargets[0]!;
        try {
          const transport = await transports.get(first.transport);
          const session = await transport.open({ server: first.server, port: first.port, credential: first.credential }, signal);
          try {
            const result = await session.discover(signal);
            results.set(key, { ok: true, result });
            // Availability groups and clusters of the targets' instances that the host has.
            const present = hostTargets.filter((t) => result.instances.some((i) => i.instance.toLowerCase() === t.instance.toLowerCase()));
            if (present.length > 0) {
              try {
                const answer = await session.queryTopology(
                  present.map((t) => t.instance),
                  signal,
                );
                for (const facts of answer.instances) {
                  const target = present.find((t) => t.instance.toLowerCase() === facts.instance.toLowerCase());
                  if (target) topology.push({ target: { server: target.server, instance: target.instance }, facts });
                }
              } catch (error) {
                warnings.push(`${first.server}: availability groups and clusters could not be read: ${errorMessage(error)}`);
              }
            }
          } finally {
            await session.close();
          }
        } catch (error) {
          const message = errorMessage(error);
          const own = message.startsWith(`${first.server}: `) ? message.slice(first.server.length + 2) : message;
          results.set(key, { ok: false, reason: `could not be reached: ${own}` });
        }
      }),
    ),
  );

  const inventory: InventoryEntry[] = [];
  const found: DiscoveryOutcome['found'] = [];
  for (const t of targets) {
    const outcome = results.get(t.server.toLowerCase())!;
    const base = { server: t.server, instance: t.instance, transport: t.transport, port: t.port, credential: t.credential };
    if (!outcome.ok) {
      warnings.push(
        `${t.server}\\${t.instance}: ${outcome.reason}; showing the recorded version ${t.recordedVersion ?? '(none)'}`,
      );
      inventory.push({ ...base, version: t.recordedVersion, edition: t.recordedEdition, reachable: false, unreachableReason: outcome.reason });
      continue;
    }
    const instance = outcome.result.instances.find((i) => i.instance.toLowerCase() === t.instance.toLowerCase());
    if (!instance) {
      const present = outcome.result.instances.map((i) => i.instance).join(', ') || 'none';
      const problem = `the host has no instance named ${t.instance} (found: ${present})`;
      warnings.push(`${t.server}\\${t.instance}: ${problem}`);
      inventory.push({ ...base, version: null, edition: t.recordedEdition, reachable: true, versionProblem: problem });
      continue;
    }
    inventory.push({ ...base, version: instance.build, edition: instance.edition ?? t.recordedEdition, reachable: true });
    found.push({ target: t, version: instance.build, edition: instance.edition });
  }
  return { inventory, found, warnings, topology };
}
