import type { Config } from '../config/load.js';
import type { TransportName } from '../remote/transport.js';
import type { ServerRow } from '../store/servers.js';

/** One instance to plan for, with how to reach its host and what was recorded about it. */
export interface KnownTarget {
  readonly server: string;
  readonly instance: string;
  readonly transport: TransportName;
  readonly port?: number | undefined;
  readonly credential?: string | undefined;
  readonly tags: readonly string[];
  /** The recorded build (targets file, or what the servers table last saw). */
  readonly recordedVersion: string | null;
  readonly recordedEdition: string | null;
  /** Where the target came from. */
  readonly source: 'targets_file' | 'servers_table';
}

/**
 * The targets file merged with the active rows of `servers`, without duplicates. The file wins for
 * how to reach a host; a version that a live query recorded in `servers` is newer than the file's.
 */
export function mergeTargets(config: Config, serverRows: readonly ServerRow[]): KnownTarget[] {
  const byKey = new Map<string, KnownTarget>();
  const rows = new Map(serverRows.map((r) => [keyOf(r.server, r.instance), r]));
  for (const t of config.targets) {
    const row = rows.get(keyOf(t.server, t.instance));
    const discovered = row?.last_seen_at ? row : undefined;
    byKey.set(keyOf(t.server, t.instance), {
      server: t.server,
      instance: t.instance,
      transport: t.transport ?? config.settings.transport,
      port: t.port,
      credential: t.credential,
      tags: t.tags,
      recordedVersion: discovered?.version ?? t.version ?? row?.version ?? null,
      recordedEdition: discovered?.edition ?? t.edition ?? row?.edition ?? null,
      source: 'targets_file',
    });
  }
  for (const row of serverRows) {
    const key = keyOf(row.server, row.instance);
    if (byKey.has(key)) continue;
    byKey.set(key, {
      server: row.server,
      instance: row.instance,
      transport: isTransport(row.transport) ? row.transport : config.settings.transport,
      port: row.port ?? undefined,
      credential: row.credential ?? undefined,
      tags: parseTags(row.tags),
      recordedVersion: row.version,
      recordedEdition: row.edition,
      source: 'servers_table',
    });
  }
  return [...byKey.values()];
}

/**
 * Keeps the targets that `--server` names: `HOST` selects every instance of the host,
 * `HOST\INSTANCE` one instance; case-insensitive. Returns the names that matched nothing too.
 */
export function selectTargets(targets: readonly KnownTarget[], names: readonly string[]): { selected: KnownTarget[]; unmatched: string[] } {
  if (names.length === 0) return { selected: [...targets], unmatched: [] };
  const unmatched: string[] = [];
  const chosen = new Set<KnownTarget>();
  for (const name of names) {
    const [host, instance] = name.split('\\', 2) as [string, string | undefined];
    const matches = targets.filter(
      (t) => t.server.toLowerCase() === host.toLowerCase() && (instance === undefined || instance === '' || t.instance.toLowerCase() === instance.toLowerCase()),
    );
    if (matches.length === 0) unmatched.push(name);
    for (const m of matches) chosen.add(m);
  }
  return { selected: targets.filter((t) => chosen.has(t)), unmatched };
}

function keyOf(server: string, instance: string): string {
  return `${server.toLowerCase()}\\${instance.toLowerCase()}`;
}

function isTransport(value: string | null): value is TransportName {
  return value === 'winrm' || value === 'ssh' || value === 'simulated';
}

function parseTags(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
