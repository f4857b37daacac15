import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openHistory } from '../../src/store/database.js';
import { STEP_STATUS, TARGET_STATUS } from '../../src/store/states.js';

function freshDb() {
  return openHistory(path.join(mkdtempSync(path.join(tmpdir(), 'ada-db-')), 'history.db'));
}

describe('history.db schema', () => {
  it('matches the pinned schema (a change to it is a visible diff in test/store/schema.sql)', () => {
    const db = freshDb();
    const rows = db.prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type DESC, name").all() as { sql: string }[];
    const actual = `${rows.map((r) => `${r.sql};`).join('\n\n')}\n`;
    const pinned = readFileSync(new URL('./schema.sql', import.meta.url), 'utf8');
    expect(actual).toBe(pinned);
  });

  it('uses WAL, foreign keys and records its migration level', () => {
    const db = freshDb();
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(1);
  });

  it('CHECK-constrains states from the code constants', () => {
    const db = freshDb();
    db.prepare("INSERT INTO servers (server, instance, source, created_at) VALUES ('A', 'MSSQLSERVER', 'test', 'now')").run();
    db.prepare("INSERT INTO hotfix_runs (started_at, status, mode, operator, host) VALUES ('now', 'running', 'deploy', 'op', 'pc')").run();
    const insertServer = db.prepare("INSERT INTO servers (server, instance, source, created_at) VALUES ('A', ?, 'test', 'now')");
    const insertTarget = db.prepare(
      "INSERT INTO hotfix_targets (hotfix_run_id, server_id, server, instance, plan_status, status) VALUES (1, ?, 'A', ?, 'pending', ?)",
    );
    const target = (instance: string, status: string) => insertTarget.run(Number(insertServer.run(instance).lastInsertRowid), instance, status);
    for (const [i, status] of TARGET_STATUS.entries()) target(`I${i}`, status);
    expect(() => target('BAD', 'done')).toThrow(/CHECK constraint failed/);
    const insertStep = db.prepare(
      "INSERT INTO hotfix_steps (hotfix_target_id, step_order, host_step_order, installer_file, installer_path, parameters, required, execution_id, status) VALUES (1, ?, 1, 'x.exe', '/x.exe', '', 1, 'e', ?)",
    );
    for (const [i, status] of STEP_STATUS.entries()) insertStep.run(i + 1, status);
    expect(() => insertStep.run(99, 'paused')).toThrow(/CHECK constraint failed/);
    expect(() => db.prepare("INSERT INTO hotfix_targets (hotfix_run_id, server_id, server, instance, plan_status, status) VALUES (42, 1, 'A', 'Z', 'pending', 'pending')").run()).toThrow(
      /FOREIGN KEY/,
    );
  });

  it('opening an existing database again changes nothing', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ada-db-'));
    const first = openHistory(path.join(dir, 'history.db'));
    first.prepare("INSERT INTO servers (server, instance, source, created_at) VALUES ('A', 'MSSQLSERVER', 'test', 'now')").run();
    first.close();
    const again = openHistory(path.join(dir, 'history.db'));
    expect(again.prepare('SELECT COUNT(*) AS n FROM servers').get()).toEqual({ n: 1 });
  });

  it('applies a migration that landed after a higher-numbered one, which a database at that level never saw', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ada-db-'));
    const first = openHistory(path.join(dir, 'history.db'));
    const level = first.pragma('user_version', { simple: true }) as number;
    // As a database made before the run graph's migration existed, by a build that had a later one.
    first.exec('DROP TRIGGER hotfix_action_deps_acyclic; DROP TABLE hotfix_action_deps; DROP TABLE hotfix_actions;');
    first.close();
    const again = openHistory(path.join(dir, 'history.db'));
    expect(again.prepare("SELECT name FROM sqlite_schema WHERE name IN ('hotfix_actions', 'hotfix_action_deps') ORDER BY name").all()).toEqual([
      { name: 'hotfix_action_deps' },
      { name: 'hotfix_actions' },
    ]);
    expect(again.pragma('user_version', { simple: true })).toBe(level);
  });
});
