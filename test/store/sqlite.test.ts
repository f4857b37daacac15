import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from '../../src/store/sqlite.js';

function tempFile(): string {
  return path.join(mkdtempSync(path.join(tmpdir(), 'ada-sqlite-')), 'test.db');
}

function withTable(file = tempFile()): Database {
  const db = new Database(file);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, data BLOB)');
  return db;
}

describe('the SQLite seam (node:sqlite behind better-sqlite3’s API)', () => {
  it('runs, gets, lists and iterates with positional and named parameters', () => {
    const db = withTable();
    const insert = db.prepare('INSERT INTO t (name) VALUES (?)');
    expect(insert.run('a')).toEqual({ changes: 1, lastInsertRowid: 1 });
    expect(db.prepare('INSERT INTO t (name) VALUES (@name)').run({ name: 'b' }).lastInsertRowid).toBe(2);
    expect(db.prepare('SELECT id, name FROM t WHERE name = ?').get('b')).toEqual({ id: 2, name: 'b' });
    expect(db.prepare('SELECT id FROM t WHERE name = ?').get('none')).toBeUndefined();
    expect(db.prepare('SELECT name FROM t ORDER BY id').all()).toEqual([{ name: 'a' }, { name: 'b' }]);
    expect([...db.prepare('SELECT name FROM t ORDER BY id').iterate()]).toEqual([{ name: 'a' }, { name: 'b' }]);
    expect(db.prepare('SELECT name FROM t ORDER BY id').pluck().all()).toEqual(['a', 'b']);
    expect(db.prepare('UPDATE t SET name = ? WHERE id > ?').run('c', 0).changes).toBe(2);
    expect(db.prepare('SELECT 1').source).toBe('SELECT 1');
    // Rows are plain objects, as better-sqlite3 returns them (node:sqlite's have no prototype).
    expect(Object.getPrototypeOf(db.prepare('SELECT 1 AS one').get())).toBe(Object.prototype);
  });

  it('returns BLOBs as Buffers and refuses values SQLite cannot store', () => {
    const db = withTable();
    db.prepare('INSERT INTO t (name, data) VALUES (?, ?)').run('x', Buffer.from('hello'));
    const row = db.prepare('SELECT data FROM t').get() as { data: Buffer };
    expect(Buffer.isBuffer(row.data)).toBe(true);
    expect(row.data.toString()).toBe('hello');
    expect(() => db.prepare('INSERT INTO t (name) VALUES (?)').run(undefined)).toThrow();
  });

  it('answers pragmas as rows, or as one value with { simple: true }', () => {
    const db = new Database(tempFile());
    expect(db.pragma('journal_mode = WAL')).toEqual([{ journal_mode: 'wal' }]);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version = 7')).toEqual([]);
    expect(db.pragma('user_version', { simple: true })).toBe(7);
    // better-sqlite3's defaults: foreign keys enforced, a 5 s busy timeout.
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(new Database(tempFile(), { timeout: 250 }).pragma('busy_timeout', { simple: true })).toBe(250);
  });

  it('commits a transaction, rolls it back when the function throws, and nests as a savepoint', () => {
    const db = withTable();
    const insert = db.prepare('INSERT INTO t (name) VALUES (?)');
    const count = () => db.prepare('SELECT count(*) FROM t').pluck().get();
    expect(db.transaction((name: string) => insert.run(name).changes).immediate('a')).toBe(1);
    expect(db.inTransaction).toBe(false);
    expect(() =>
      db.transaction(() => {
        insert.run('b');
        throw new Error('boom');
      })(),
    ).toThrow('boom');
    expect(count()).toBe(1);
    db.transaction(() => {
      insert.run('outer');
      expect(() =>
        db.transaction(() => {
          insert.run('inner');
          throw new Error('inner fails');
        }).immediate(),
      ).toThrow('inner fails');
      expect(db.inTransaction).toBe(true);
    }).immediate();
    expect(db.prepare('SELECT name FROM t ORDER BY id').pluck().all()).toEqual(['a', 'outer']);
  });

  it('refuses a transaction function that returns a promise, and leaves nothing of it', () => {
    const db = withTable();
    expect(() =>
      db.transaction(async () => {
        db.prepare('INSERT INTO t (name) VALUES (?)').run('async');
      })(),
    ).toThrow(/must not return a promise/);
    expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(0);
  });

  it('IMMEDIATE takes the write lock at BEGIN: a second connection waits its busy timeout, then fails busy', () => {
    const file = tempFile();
    const first = withTable(file);
    first.pragma('journal_mode = WAL');
    const second = new Database(file, { timeout: 50 });
    let secondError: unknown;
    first
      .transaction(() => {
        try {
          second.transaction(() => second.prepare('INSERT INTO t (name) VALUES (?)').run('second')).immediate();
        } catch (error) {
          secondError = error;
        }
      })
      .immediate();
    expect(String(secondError)).toMatch(/database is locked/);
    expect(second.inTransaction).toBe(false);
    // Readers are not blocked by the writer in WAL mode.
    expect(second.prepare('SELECT count(*) FROM t').pluck().get()).toBe(0);
  });

  it('opens read-only, never creating the file, and closes idempotently', () => {
    const file = tempFile();
    expect(() => new Database(file, { readonly: true })).toThrow(/does not exist/);
    expect(() => new Database(file, { fileMustExist: true })).toThrow(/does not exist/);
    withTable(file).close();
    const reader = new Database(file, { readonly: true });
    expect(reader.readonly).toBe(true);
    expect(() => reader.exec("INSERT INTO t (name) VALUES ('x')")).toThrow(/readonly/);
    reader.close();
    expect(reader.open).toBe(false);
    expect(() => reader.close()).not.toThrow();
  });
});
