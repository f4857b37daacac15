import { existsSync } from 'node:fs';
import type * as NodeSqlite from 'node:sqlite';

/**
 * The SQLite seam: the runtime's own `node:sqlite` (no native add-on to compile or download, so the
 * single Windows executable carries it), behind the part of better-sqlite3's API this program uses.
 * Callers write `new Database(file)`, `db.prepare(sql).run/get/all/iterate`, `db.pragma(...)` and
 * `db.transaction(fn).immediate()` exactly as with better-sqlite3.
 */

// null, number, bigint, string, Buffer/Uint8Array, or one object of named values; node:sqlite refuses
// anything else (undefined included) with an error naming the parameter, as better-sqlite3 does.
type BindArgs = readonly unknown[];
type NodeBindArgs = Parameters<NodeSqlite.StatementSync['run']>;

export interface RunResult {
  /** Rows inserted, updated or deleted by the statement. */
  readonly changes: number;
  /** The rowid of the last row inserted on this connection. */
  readonly lastInsertRowid: number | bigint;
}

export interface DatabaseOptions {
  /** Open an existing file for reading only (never creates it). */
  readonly readonly?: boolean | undefined;
  /** Refuse to create the file when it does not exist. */
  readonly fileMustExist?: boolean | undefined;
  /** Milliseconds to wait for another connection's lock before SQLITE_BUSY (better-sqlite3's default: 5000). */
  readonly timeout?: number | undefined;
}

export interface PragmaOptions {
  /** Return the first column of the first row instead of every row. */
  readonly simple?: boolean | undefined;
}

/** A function wrapped in BEGIN … COMMIT (ROLLBACK when it throws); a savepoint when already in one. */
export type Transaction<F extends (...args: never[]) => unknown> = F & {
  readonly deferred: F;
  readonly immediate: F;
  readonly exclusive: F;
};

// node:sqlite's first load prints "ExperimentalWarning: SQLite is an experimental feature …" on
// stderr. The module is stable enough for what the store does (its API is pinned with the runtime in
// package.json), and an operator reading that line would fear for the history database; exactly that
// one warning is dropped, every other warning goes through.
const SQLITE_WARNING = /^SQLite is an experimental feature/;

let nodeSqlite: typeof NodeSqlite | undefined;

function loadNodeSqlite(): typeof NodeSqlite {
  if (nodeSqlite) return nodeSqlite;
  const emitWarning = process.emitWarning;
  process.emitWarning = function filtered(this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    const text = typeof warning === 'string' ? warning : warning.message;
    const name = typeof warning === 'string' ? type : warning.name;
    if (name === 'ExperimentalWarning' && SQLITE_WARNING.test(text)) return;
    return (emitWarning as (...args: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    // getBuiltinModule (not a static import) so the filter is in place when the module first loads.
    const loaded = process.getBuiltinModule?.('node:sqlite') as typeof NodeSqlite | undefined;
    if (!loaded) throw new Error('missing');
    nodeSqlite = loaded;
    return loaded;
  } catch {
    throw new Error(
      `this Node.js (${process.version}) has no node:sqlite; AutoDBAudit runs on the Node.js pinned in package.json ` +
        '(run `npm ci`, then use npm scripts or node_modules/.bin/node), or as AutoDBAudit.exe',
    );
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** Why this runtime cannot open a database (a Node.js without node:sqlite), or undefined when it can. */
export function sqliteUnavailable(): string | undefined {
  try {
    loadNodeSqlite();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Rows as plain objects with Buffers for BLOBs, as better-sqlite3 returns them. */
function plainRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(row)) {
    const value = row[key];
    out[key] = value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value;
  }
  return out;
}

export class Statement {
  private plucked = false;

  constructor(
    private readonly statement: NodeSqlite.StatementSync,
    /** The SQL text the statement was prepared from. */
    readonly source: string,
  ) {}

  /** Makes get/all/iterate return the first column's value instead of the row. */
  pluck(toggle = true): this {
    this.plucked = toggle;
    return this;
  }

  run(...params: BindArgs): RunResult {
    const result = this.statement.run(...(params as NodeBindArgs));
    return { changes: Number(result.changes), lastInsertRowid: result.lastInsertRowid };
  }

  get(...params: BindArgs): unknown {
    const row = this.statement.get(...(params as NodeBindArgs)) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : this.shape(row);
  }

  all(...params: BindArgs): unknown[] {
    return (this.statement.all(...(params as NodeBindArgs)) as Record<string, unknown>[]).map((row) => this.shape(row));
  }

  *iterate(...params: BindArgs): IterableIterator<unknown> {
    for (const row of this.statement.iterate(...(params as NodeBindArgs))) yield this.shape(row as Record<string, unknown>);
  }

  private shape(row: Record<string, unknown>): unknown {
    if (!this.plucked) return plainRow(row);
    const [first] = Object.keys(row);
    return first === undefined ? undefined : plainRow(row)[first];
  }
}

export class Database {
  private readonly connection: NodeSqlite.DatabaseSync;
  private savepoints = 0;
  /** The file the connection was opened on. */
  readonly name: string;
  readonly readonly: boolean;

  constructor(file: string, options: DatabaseOptions = {}) {
    const { DatabaseSync } = loadNodeSqlite();
    this.name = file;
    this.readonly = options.readonly === true;
    if ((options.fileMustExist || this.readonly) && file !== ':memory:' && !existsSync(file)) {
      throw new Error(`unable to open database file: ${file} does not exist`);
    }
    // Foreign keys on and double-quoted strings as identifiers only: better-sqlite3's build defaults.
    this.connection = new DatabaseSync(file, {
      readOnly: this.readonly,
      enableForeignKeyConstraints: true,
      enableDoubleQuotedStringLiterals: false,
    });
    this.connection.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.timeout ?? 5000))}`);
  }

  get open(): boolean {
    return this.connection.isOpen;
  }

  get inTransaction(): boolean {
    return this.connection.isTransaction;
  }

  prepare(sql: string): Statement {
    return new Statement(this.connection.prepare(sql), sql);
  }

  exec(sql: string): this {
    this.connection.exec(sql);
    return this;
  }

  /** `PRAGMA <source>`: every row, or with `{ simple: true }` the first column of the first row. */
  pragma(source: string, options: PragmaOptions = {}): unknown {
    const statement = this.connection.prepare(`PRAGMA ${source}`);
    if (!options.simple) return (statement.all() as Record<string, unknown>[]).map(plainRow);
    const row = statement.get() as Record<string, unknown> | undefined;
    if (row === undefined) return undefined;
    const [first] = Object.keys(row);
    return first === undefined ? undefined : row[first];
  }

  transaction<F extends (...args: never[]) => unknown>(fn: F): Transaction<F> {
    const wrap = (begin: string): F =>
      ((...args: Parameters<F>) => {
        if (this.connection.isTransaction) return this.inSavepoint(fn, args);
        this.connection.exec(begin);
        try {
          const result = fn(...args);
          refusePromise(result);
          this.connection.exec('COMMIT');
          return result;
        } catch (error) {
          // SQLite may already have rolled back (e.g. after SQLITE_FULL); a second ROLLBACK would throw.
          if (this.connection.isTransaction) this.connection.exec('ROLLBACK');
          throw error;
        }
      }) as F;
    const deferred = wrap('BEGIN DEFERRED');
    return Object.assign(wrap('BEGIN DEFERRED'), {
      deferred,
      immediate: wrap('BEGIN IMMEDIATE'),
      exclusive: wrap('BEGIN EXCLUSIVE'),
    }) as Transaction<F>;
  }

  close(): this {
    if (this.connection.isOpen) this.connection.close();
    return this;
  }

  private inSavepoint<F extends (...args: never[]) => unknown>(fn: F, args: Parameters<F>): ReturnType<F> {
    const name = `nested_${++this.savepoints}`;
    this.connection.exec(`SAVEPOINT ${name}`);
    try {
      const result = fn(...args);
      refusePromise(result);
      this.connection.exec(`RELEASE ${name}`);
      return result as ReturnType<F>;
    } catch (error) {
      if (this.connection.isTransaction) {
        this.connection.exec(`ROLLBACK TO ${name}`);
        this.connection.exec(`RELEASE ${name}`);
      }
      throw error;
    } finally {
      this.savepoints--;
    }
  }
}

// A transaction must finish before the function returns: an await inside would commit half of it.
function refusePromise(result: unknown): void {
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    throw new TypeError('a transaction function must not return a promise (its work would escape the transaction)');
  }
}

// better-sqlite3 spells the types `Database.Database` and `Database.Statement`; the same names work here.
export declare namespace Database {
  type Database = import('./sqlite.js').Database;
  type Statement = import('./sqlite.js').Statement;
  type RunResult = import('./sqlite.js').RunResult;
}

export default Database;
