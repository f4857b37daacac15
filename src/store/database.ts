import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readShippedText, shippedFolderNames } from '../shippedFiles.js';
import Database from './sqlite.js';
import { STATE_LISTS } from './states.js';
import { BUSY_TIMEOUT_MS, NewerSchemaError } from './storageFailure.js';

export { BUSY_TIMEOUT_MS, describeStorageFailure, NewerSchemaError } from './storageFailure.js';

export type HistoryDb = Database.Database;

const MIGRATIONS_FOLDER = 'store/migrations';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /**
   * Tables whose state CHECK lists are refilled from the code's constants after the migration's SQL
   * (`-- @refresh-checks table column=LIST …` lines): SQLite cannot alter a CHECK constraint, so
   * the table is rebuilt with every column it has, whoever added them.
   */
  readonly refreshChecks: readonly { table: string; columns: Readonly<Record<string, string>> }[];
  /** Tables (and triggers) the migration creates: how a database tells that a migration below its level was never applied. */
  readonly creates: readonly string[];
}

/**
 * The numbered .sql files, with `{{STATE_LIST}}` placeholders filled from the code's constants: the
 * shipped ones (beside this module, or inside AutoDBAudit.exe), or those of `dir`.
 */
export function loadMigrations(dir?: string): Migration[] {
  const files = dir
    ? readdirSync(dir).map((name) => ({ name, read: () => readFileSync(path.join(dir, name), 'utf8') }))
    : shippedFolderNames(MIGRATIONS_FOLDER).map((key) => ({ name: key.slice(MIGRATIONS_FOLDER.length + 1), read: () => readShippedText(key) }));
  return files
    .filter((f) => /^\d{4}_.+\.sql$/.test(f.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(({ name, read }) => {
      const text = read();
      return {
        version: Number.parseInt(name.slice(0, 4), 10),
        name,
        sql: fillStateLists(text),
        refreshChecks: refreshDirectives(text),
        creates: [...text.matchAll(/^CREATE (?:TABLE|TRIGGER)\s+(\w+)/gm)].map((m) => m[1]!),
      };
    });
}

function refreshDirectives(sql: string): Migration['refreshChecks'] {
  return [...sql.matchAll(/^--\s*@refresh-checks\s+(\w+)\s+(.+)$/gm)].map((m) => ({
    table: m[1]!,
    columns: Object.fromEntries(
      m[2]!
        .trim()
        .split(/\s+/)
        .map((pair) => pair.split('=') as [string, string]),
    ),
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
  try {
    // First, so that every statement after it (the WAL switch included) waits for a busy database.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a killed process; only power loss may drop the last transactions.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/**
 * Applies every migration the database lacks. Numbers are handed out ahead of time and may land out of
 * order, so a database can be at a level above a migration it never saw: a migration at or below the
 * level counts as applied only when the tables it creates exist.
 */
export function migrate(db: HistoryDb): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const migrations = loadMigrations();
  const known = Math.max(0, ...migrations.map((m) => m.version));
  if (current > known) throw new NewerSchemaError(current, known);
  const hasTable = db.prepare("SELECT 1 FROM sqlite_schema WHERE type IN ('table', 'trigger') AND name = ?");
  for (const migration of migrations) {
    if (migration.version <= current && migration.creates.every((table) => hasTable.get(table) !== undefined)) continue;
    const rebuilds = migration.refreshChecks.length > 0;
    // A table rebuild drops the old table: with foreign keys on, that would delete through every
    // reference. They are off for that migration only (the pragma has no effect inside a
    // transaction), and foreign_key_check must come back empty before it commits.
    const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
    if (rebuilds) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(migration.sql);
        for (const refresh of migration.refreshChecks) rebuildWithCurrentChecks(db, refresh.table, refresh.columns);
        if (rebuilds) {
          const broken = db.pragma('foreign_key_check') as unknown[];
          if (broken.length > 0) throw new Error(`migration ${migration.name} left ${broken.length} broken reference(s)`);
        }
        db.pragma(`user_version = ${Math.max(migration.version, db.pragma('user_version', { simple: true }) as number)}`);
      }).immediate();
    } finally {
      if (rebuilds && foreignKeys) db.pragma('foreign_keys = ON');
    }
  }
}

/** Rebuilds `table` with its CHECK (column IN (…)) lists taken from the named state constants. */
function rebuildWithCurrentChecks(db: HistoryDb, table: string, columns: Readonly<Record<string, string>>): void {
  const found = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?").get(table) as { sql: string } | undefined;
  if (!found) throw new Error(`@refresh-checks names table ${table}, which does not exist`);
  // Dropping the old table drops its indexes and triggers too: both are created again afterwards.
  const indexes = db.prepare("SELECT sql FROM sqlite_schema WHERE type IN ('index', 'trigger') AND tbl_name = ? AND sql IS NOT NULL").all(table) as { sql: string }[];
  const temporary = `${table}__rebuild`;
  let sql = found.sql.replace(/^CREATE TABLE\s+("?)(\w+)\1/, `CREATE TABLE ${temporary}`);
  for (const [column, listName] of Object.entries(columns)) {
    const list = STATE_LISTS[listName];
    if (!list) throw new Error(`@refresh-checks names an unknown state list ${listName}`);
    const check = new RegExp(`CHECK \\(${column} IN \\([^)]*\\)\\)`);
    if (!check.test(sql)) throw new Error(`@refresh-checks: ${table}.${column} has no CHECK (${column} IN (…))`);
    sql = sql.replace(check, `CHECK (${column} IN (${list.map((s) => `'${s}'`).join(', ')}))`);
  }
  db.exec(sql);
  db.exec(`INSERT INTO ${temporary} SELECT * FROM ${table}; DROP TABLE ${table}; ALTER TABLE ${temporary} RENAME TO ${table};`);
  for (const index of indexes) db.exec(index.sql);
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
