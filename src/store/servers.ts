import type { HistoryDb } from './database.js';
import { nowIso, statements } from './database.js';

/** A row of `servers`: an instance the tool knows, from the targets file, an import or a discovery. */
export interface ServerRow {
  readonly id: number;
  readonly server: string;
  readonly instance: string;
  readonly port: number | null;
  readonly transport: string | null;
  readonly credential: string | null;
  /** JSON array of tags. */
  readonly tags: string;
  readonly version: string | null;
  readonly edition: string | null;
  readonly version_family: string | null;
  readonly is_active: 0 | 1;
  /** Where the row came from: `targets_file`, `import`, `discovery`. */
  readonly source: string;
  readonly created_at: string;
  readonly last_seen_at: string | null;
}

export interface ServerIdentity {
  readonly server: string;
  readonly instance: string;
}

export interface ServerDetails extends ServerIdentity {
  readonly port?: number | undefined;
  readonly transport?: string | undefined;
  readonly credential?: string | undefined;
  readonly tags?: readonly string[] | undefined;
  readonly version?: string | null | undefined;
  readonly edition?: string | null | undefined;
}

export function activeServers(db: HistoryDb): ServerRow[] {
  return statements(db).prepare('SELECT * FROM servers WHERE is_active = 1 ORDER BY server, instance').all() as ServerRow[];
}

export function findServer(db: HistoryDb, who: ServerIdentity): ServerRow | undefined {
  return statements(db).prepare('SELECT * FROM servers WHERE server = ? AND instance = ?').get(who.server, who.instance) as
    | ServerRow
    | undefined;
}

/**
 * Makes sure a row exists for the instance and returns its id. Known rows keep their recorded version
 * unless `details.version` is given; connection details are refreshed.
 */
export function ensureServer(db: HistoryDb, details: ServerDetails, source: string, now = nowIso()): number {
  const existing = findServer(db, details);
  if (existing) {
    statements(db).prepare(
      `UPDATE servers SET port = COALESCE(?, port), transport = COALESCE(?, transport), credential = COALESCE(?, credential),
         tags = COALESCE(?, tags), version = COALESCE(?, version), edition = COALESCE(?, edition), is_active = 1
       WHERE id = ?`,
    ).run(
      details.port ?? null,
      details.transport ?? null,
      details.credential ?? null,
      details.tags ? JSON.stringify(details.tags) : null,
      details.version ?? null,
      details.edition ?? null,
      existing.id,
    );
    return existing.id;
  }
  const result = statements(db)
    .prepare(
      `INSERT INTO servers (server, instance, port, transport, credential, tags, version, edition, is_active, source, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
    )
    .run(
      details.server,
      details.instance,
      details.port ?? null,
      details.transport ?? null,
      details.credential ?? null,
      JSON.stringify(details.tags ?? []),
      details.version ?? null,
      details.edition ?? null,
      source,
      now,
    );
  return Number(result.lastInsertRowid);
}

/** Records what a live query found: the build and edition, and when the instance was last seen. */
export function recordDiscovery(
  db: HistoryDb,
  who: ServerIdentity,
  found: { version: string | null; edition: string | null; family: string | null },
  now = nowIso(),
): void {
  const id = ensureServer(db, who, 'discovery', now);
  statements(db).prepare('UPDATE servers SET version = ?, edition = COALESCE(?, edition), version_family = ?, last_seen_at = ? WHERE id = ?').run(
    found.version,
    found.edition,
    found.family,
    now,
    id,
  );
}
