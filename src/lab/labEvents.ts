import type Database from '../store/sqlite.js';

/**
 * The lab world's change log: one row per change of the world that a real server would show (a
 * restart, a failover, an instance broken by a killed installer). Tests and operators read it to see
 * what happened to the fleet, in order; the engine never reads it.
 */

/** The kinds of change the lab records (names fixed by the shared architecture). */
export const LAB_EVENT_KINDS = [
  'restart_begin',
  'restart_end',
  'failover',
  'failover_mode',
  'sync_state',
  'role_move',
  'instance_broken',
  // A file copied onto the host (staging): `{"path", "sha256", "bytes"}`. A file already there with the same hash is not copied, and not recorded.
  'file_staged',
  // The tool created the host's staging folder, protected (SYSTEM and Administrators only): `{"path"}`.
  'staging_folder_created',
  // The wrapper extracted the package with /x: before setup: `{"path", "execution_id"}`.
  'extracted',
  // That folder was removed: `{"path", "execution_id", "reason"}` (setup ended, setup was stopped, or
  // swept as left by an execution that is over).
  'extraction_removed',
] as const;
export type LabEventKind = (typeof LAB_EVENT_KINDS)[number];

/** A row of `lab_events`. */
export interface LabEventRow {
  readonly id: number;
  /** Real UTC time, ISO-8601 with milliseconds. */
  readonly at: string;
  readonly server: string;
  /** The instance the change is about; null for a change of the whole host (a restart). */
  readonly instance: string | null;
  readonly kind: LabEventKind;
  /** JSON object: what changed (e.g. `{"reason": "…"}` for `instance_broken`). */
  readonly detail: string;
}

export interface LabEvent {
  readonly server: string;
  readonly instance?: string | null | undefined;
  readonly kind: LabEventKind;
  readonly detail?: Readonly<Record<string, unknown>> | undefined;
}

// Kept without a CHECK on `kind` so that a world created by an older build keeps working when a
// kind is added; the code writes only LAB_EVENT_KINDS.
export const LAB_EVENTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS lab_events (
  id INTEGER PRIMARY KEY, at TEXT NOT NULL, server TEXT NOT NULL COLLATE NOCASE, instance TEXT COLLATE NOCASE,
  kind TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS lab_events_by_server ON lab_events (server, id);
`;

/** Appends one event at `atMs` (epoch milliseconds) and returns its id. */
export function appendLabEvent(db: Database.Database, event: LabEvent, atMs: number): number {
  const result = db
    .prepare('INSERT INTO lab_events (at, server, instance, kind, detail) VALUES (?, ?, ?, ?, ?)')
    .run(new Date(atMs).toISOString(), event.server, event.instance ?? null, event.kind, JSON.stringify(event.detail ?? {}));
  return Number(result.lastInsertRowid);
}

/** The events, oldest first; only one host's when `server` is given. */
export function readLabEvents(db: Database.Database, server?: string): LabEventRow[] {
  return (
    server === undefined
      ? db.prepare('SELECT * FROM lab_events ORDER BY id').all()
      : db.prepare('SELECT * FROM lab_events WHERE server = ? ORDER BY id').all(server)
  ) as LabEventRow[];
}
