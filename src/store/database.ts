import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { STATE_LISTS } from './states.js';

export type HistoryDb = Database.Database;

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The numbered .sql files, with `{{STATE_LIST}}` placeholders filled from the code's constants. */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((name) => ({
      version: Number.parseInt(name.slice(0, 4), 10),
      name,
      sql: fillStateLists(readFileSync(path.join(dir, name), 'utf8')),
    }));
}

function fillStateLists(sql: string): string {
  return sql.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const list = STATE_LISTS[name];
    if (!list) throw new Error(`migration names an unknown state list {{${name}}}`);
    return list.map((s) => `'${s}'`).join(', ');
  });
}

/**
 * Opens (creating when needed) a history database and brings its schema up to date. Each migration
 * runs in its own transaction together with its `user_version`, so a crash never leaves half a schema.
 */
export function openHistory(file: string): HistoryDb {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives a killed process; only power loss may drop the last transactions.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 10000');
  migrate(db);
  return db;
}

export function migrate(db: HistoryDb): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const migration of loadMigrations()) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
}

/** Hands out prepared statements; the same SQL text gets the same statement back. */
export interface StatementCache {
  prepare(sql: string): Database.Statement;
}

// Preparing a statement (parsing and planning its SQL) costs more than running one of the small
// guarded writes a deployment makes per step, so each SQL text is prepared once per database.
const statementCaches = new WeakMap<HistoryDb, StatementCache>();

/** The statement cache of `db`, shared by every caller that uses the same connection. */
export function statements(db: HistoryDb): StatementCache {
  let cache = statementCaches.get(db);
  if (!cache) {
    const byText = new Map<string, Database.Statement>();
    cache = {
      prepare(sql) {
        let prepared = byText.get(sql);
        if (!prepared) {
          prepared = db.prepare(sql);
          byText.set(sql, prepared);
        }
        return prepared;
      },
    };
    statementCaches.set(db, cache);
  }
  return cache;
}

/** ISO-8601 UTC with milliseconds: the one time format of every table. */
export function nowIso(clock: () => Date = () => new Date()): string {
  return clock().toISOString();
}
