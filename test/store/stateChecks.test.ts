import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from '../../src/store/sqlite.js';
import { describe, expect, it } from 'vitest';
import { loadMigrations, openHistory } from '../../src/store/database.js';
import { RUN_MODE } from '../../src/store/states.js';

describe('a history.db made before the stage run mode', () => {
  it('is upgraded in place: its runs, targets and references kept, the new mode accepted, foreign keys on again', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ada-db-')), 'history.db');
    const old = new Database(file);
    old.pragma('foreign_keys = ON');
    const first = loadMigrations()[0]!;
    old.exec(first.sql.replace(/'stage'(, )?/g, '').replace(/, \)/g, ')'));
    old.pragma(`user_version = ${first.version}`);
    expect(() => old.prepare("INSERT INTO hotfix_runs (started_at, status, mode, operator, host) VALUES ('t', 'running', 'stage', 'op', 'pc')").run()).toThrow(/CHECK/);
    old.prepare("INSERT INTO servers (server, instance, source, created_at) VALUES ('A', 'MSSQLSERVER', 'test', 't')").run();
    old.prepare("INSERT INTO hotfix_runs (started_at, status, mode, operator, host) VALUES ('t', 'failed', 'deploy', 'op', 'pc')").run();
    old.prepare("INSERT INTO hotfix_targets (hotfix_run_id, server_id, server, instance, plan_status, status) VALUES (1, 1, 'A', 'MSSQLSERVER', 'pending', 'failed')").run();
    old.close();

    const db = openHistory(file);
    expect(db.prepare('SELECT id, mode, status FROM hotfix_runs').all()).toEqual([{ id: 1, mode: 'deploy', status: 'failed' }]);
    expect(db.prepare('SELECT hotfix_run_id, wave, deferred_ms FROM hotfix_targets').all()).toEqual([{ hotfix_run_id: 1, wave: null, deferred_ms: null }]);
    for (const mode of RUN_MODE) db.prepare("INSERT INTO hotfix_runs (started_at, status, mode, operator, host) VALUES ('t', 'running', ?, 'op', 'pc')").run(mode);
    expect(() => db.prepare("INSERT INTO hotfix_runs (started_at, status, mode, operator, host) VALUES ('t', 'running', 'other', 'op', 'pc')").run()).toThrow(/CHECK/);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(() => db.prepare("INSERT INTO hotfix_targets (hotfix_run_id, server_id, server, instance, plan_status, status) VALUES (99, 1, 'A', 'X', 'pending', 'pending')").run()).toThrow(/FOREIGN KEY/);
    expect(db.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
  });
});
