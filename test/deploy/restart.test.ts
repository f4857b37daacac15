import { readdirSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { beforeAll, describe, expect, it } from 'vitest';
import Database from '../../src/store/sqlite.js';
import { labFleet, readHistory } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';

interface LabEvent {
  server: string;
  kind: string;
  at: string;
  detail: string;
}

function labEvents(root: string): LabEvent[] {
  const db = new Database(path.join(root, 'output/lab/world.db'), { readonly: true });
  try {
    return db.prepare("SELECT server, kind, at, detail FROM lab_events WHERE kind IN ('restart_begin', 'restart_end') ORDER BY id").all() as LabEvent[];
  } finally {
    db.close();
  }
}

interface ActionLine {
  server: string;
  kind: string;
  status: string | null;
  reason: string | null;
  detail: string;
  error_message: string | null;
}

function actionsOf(root: string, server: string): ActionLine[] {
  return readHistory<ActionLine>(root, 'SELECT * FROM hotfix_actions WHERE server = ? ORDER BY seq', server);
}

function targetsOf(root: string): Record<string, { status: string; requires_restart: number; post_build: string | null; error_message: string | null }> {
  const rows = readHistory<{ server: string; status: string; requires_restart: number; post_build: string | null; error_message: string | null }>(
    root,
    'SELECT server, status, requires_restart, post_build, error_message FROM hotfix_targets',
  );
  return Object.fromEntries(rows.map((r) => [r.server, r]));
}

describe('restart: never (the default) keeps today\'s behaviour', () => {
  it('restarts nothing and reports who needs a restart', () => {
    const fleet = labFleet([{ server: 'R3010', version: '16.0.4085.0', simulation: { installers: { 'CU16.exe': { exit_codes: [3010] } } } }]);
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(labEvents(fleet.root)).toEqual([]);
    expect(actionsOf(fleet.root, 'R3010').map((a) => a.kind)).toEqual(['preflight', 'install', 'verify']);
    expect(targetsOf(fleet.root).R3010).toMatchObject({ status: 'success', requires_restart: 1 });
  });
});

describe('restart: when_required', () => {
  let fleet: { root: string; config: string };
  let result: ReturnType<typeof runCli>;
  beforeAll(() => {
    fleet = labFleet(
      [
        { server: 'R3010', version: '16.0.4085.0', simulation: { installers: { 'CU16.exe': { exit_codes: [3010] } } } },
        { server: 'PLAIN' },
        { server: 'GONE', version: '16.0.4085.0', simulation: { comes_back: false } },
      ],
      { hotfix: { restart: 'when_required', restart_timeout_minutes: 0.05 }, timeScale: 0.005 },
    );
    result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
  });

  it('restarts the hosts that need it, once each, and verifies them again', () => {
    expect(result.code, result.stdout + result.stderr).toBe(1);
    const events = labEvents(fleet.root);
    expect(events.filter((e) => e.server === 'R3010').map((e) => e.kind)).toEqual(['restart_begin', 'restart_end']);
    expect(JSON.parse(events.find((e) => e.server === 'R3010')!.detail).comment).toMatch(/^AutoDBAudit run 1: /);
    expect(events.filter((e) => e.server === 'PLAIN')).toEqual([]);
    expect(actionsOf(fleet.root, 'R3010').map((a) => [a.kind, a.status ?? 'steps'])).toEqual([
      ['preflight', 'success'],
      ['install', 'steps'],
      ['verify', 'success'],
      ['restart', 'success'],
      ['wait_healthy', 'success'],
      ['verify', 'success'],
    ]);
    const wait = JSON.parse(actionsOf(fleet.root, 'R3010')[4]!.detail) as { back_ms: number; boot_after: string };
    expect(wait.back_ms).toBeGreaterThan(0);
    expect(Date.parse(wait.boot_after)).toBeGreaterThan(Date.parse(JSON.parse(actionsOf(fleet.root, 'R3010')[3]!.detail).boot_before));
    // The restart it needed is done.
    expect(targetsOf(fleet.root).R3010).toMatchObject({ status: 'success', requires_restart: 0, post_build: '16.0.4165.4' });
    expect(actionsOf(fleet.root, 'PLAIN').map((a) => [a.kind, a.status ?? 'steps'])).toEqual([
      ['preflight', 'success'],
      ['install', 'steps'],
      ['verify', 'success'],
      ['restart', 'skipped'],
      ['wait_healthy', 'skipped'],
      ['verify', 'skipped'],
    ]);
  });

  it('fails a host that does not come back, with that reason, and the rest of the run goes on (exit 1, not 3)', () => {
    expect(labEvents(fleet.root).filter((e) => e.server === 'GONE').map((e) => e.kind)).toEqual(['restart_begin']);
    const gone = targetsOf(fleet.root).GONE!;
    expect(gone.status).toBe('failed');
    expect(gone.error_message).toMatch(/GONE: did not come back healthy within 3 s of its restart \(last: .*\)/);
    expect(actionsOf(fleet.root, 'GONE').map((a) => a.status ?? 'steps').slice(3)).toEqual(['success', 'failed', 'skipped']);
    expect(targetsOf(fleet.root).PLAIN!.status).toBe('success');
    expect(result.stdout).toMatch(/GONE: did not come back healthy/);
  });

  it('says per host in the summary, the history and the workbook whether it was restarted, when, and how long it took to come back', async () => {
    expect(result.stdout).toMatch(/^Restarts:$/m);
    expect(result.stdout).toMatch(/^ {2}R3010: restarted after patching at \d{4}-\d\d-\d\dT[\d:.]+Z; back and healthy after [\d.]+ s$/m);
    expect(result.stdout).toMatch(/^ {2}PLAIN: not restarted after patching: no update asked for a restart/m);
    expect(result.stdout).toMatch(/^ {2}GONE: restarted after patching at .*; did not come back: GONE: did not come back healthy within 3 s/m);

    const history = runCli(['--hotfix-history', '--run-id', '1', '--json', '--config', fleet.config]);
    const detail = JSON.parse(history.stdout) as { restarts: { server: string; outcome: string; backMs: number | null; requestedAt: string | null }[]; awaiting_restart: string[] };
    expect(detail.restarts.map((r) => [r.server, r.outcome])).toEqual([
      ['GONE', 'not_back'],
      ['PLAIN', 'not_needed'],
      ['R3010', 'restarted'],
    ]);
    expect(detail.restarts.find((r) => r.server === 'R3010')!.backMs).toBeGreaterThan(0);
    expect(detail.awaiting_restart).toEqual([]);
    const text = runCli(['--hotfix-history', '--run-id', '1', '--config', fleet.config]);
    expect(text.stdout).toMatch(/^ {2}R3010: restarted after patching at .*; back and healthy after/m);

    const reports = path.join(fleet.root, 'output', 'reports');
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(path.join(reports, readdirSync(reports)[0]!));
    const sheet = workbook.getWorksheet('Restarts')!;
    const rows: string[][] = [];
    sheet.eachRow((row) => rows.push([String(row.getCell(1).value), String(row.getCell(3).value)]));
    expect(rows).toEqual([
      ['Server', 'Outcome'],
      ['GONE', 'Did not come back'],
      ['PLAIN', 'Not needed'],
      ['R3010', 'Restarted, back healthy'],
    ]);
  });

  it('plans no restart once every host is patched', () => {
    const text = runCli(['--hotfix-plan', '--config', fleet.config]);
    expect(text.stdout).toMatch(/^Restarts: none \(no host has anything to install\)$/m);
    const json = JSON.parse(runCli(['--hotfix-plan', '--json', '--restart', 'always', '--config', fleet.config]).stdout) as { restarts: unknown[] };
    expect(json.restarts).toEqual([]);
  });
});

describe('restart: always', () => {
  it('restarts every patched host once, no more at once than max_concurrent_servers, and none that had nothing to install', () => {
    const hosts = ['A1', 'A2', 'A3', 'A4'];
    const fleet = labFleet([...hosts.map((server) => ({ server, simulation: { restart_seconds: 200 } })), { server: 'CURRENT', version: '15.0.4395.2' }], {
      hotfix: { max_concurrent_servers: 2 },
      timeScale: 0.005,
    });
    const plan = runCli(['--hotfix-plan', '--offline', '--restart', 'always', '--config', fleet.config]);
    expect(plan.stdout).toContain('  A1: will restart after patching (restart: always)');
    const result = runCli(['--deploy-hotfixes', '--yes', '--restart', 'always', '--config', fleet.config]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const events = labEvents(fleet.root);
    for (const server of hosts) expect(events.filter((e) => e.server === server).map((e) => e.kind), server).toEqual(['restart_begin', 'restart_end']);
    expect(events.filter((e) => e.server === 'CURRENT')).toEqual([]);
    // Replaying the world's events: hosts down at once never exceed the limit.
    let down = 0;
    let most = 0;
    for (const e of events) {
      down += e.kind === 'restart_begin' ? 1 : -1;
      most = Math.max(most, down);
    }
    expect(down).toBe(0);
    expect(most).toBeLessThanOrEqual(2);
    for (const server of hosts) {
      expect(actionsOf(fleet.root, server).map((a) => [a.kind, a.status ?? 'steps']), server).toEqual([
        ['preflight', 'success'],
        ['install', 'steps'],
        ['verify', 'success'],
        ['restart', 'success'],
        ['wait_healthy', 'success'],
        ['verify', 'success'],
      ]);
    }
    expect(targetsOf(fleet.root).A1).toMatchObject({ status: 'success', post_build: '15.0.4395.2', requires_restart: 0 });
    expect(result.stdout).toMatch(/^ {2}A4: restarted after patching at .*; back and healthy after [\d.]+ s$/m);
  });
});

describe('the plan with restarts', () => {
  it('names each host that will or may be restarted, and why', () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B', version: '16.0.4085.0' }], { hotfix: { restart: 'when_required', clear_pending_reboot: true } });
    const text = runCli(['--hotfix-plan', '--offline', '--config', fleet.config]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Restarts (restart: when_required, clear_pending_reboot):');
    expect(text.stdout).toContain('  A: may restart before patching, if pre-flight finds a pending reboot (clear_pending_reboot)');
    expect(text.stdout).toContain('  A: may restart after patching, if setup asks for a restart (restart: when_required)');
    expect(text.stdout).toContain('  B: will restart after patching: the update requires a restart (mapping)');
    const plain = labFleet([{ server: 'A' }]);
    const json = JSON.parse(runCli(['--hotfix-plan', '--offline', '--json', '--config', plain.config]).stdout) as Record<string, unknown>;
    // restart: never (the default) leaves the plan as it was.
    expect('restarts' in json).toBe(false);
    expect(runCli(['--hotfix-plan', '--offline', '--restart', 'sometimes', '--config', plain.config]).stderr).toMatch(/expected never, when_required, always/);
  });
});

describe('clear_pending_reboot', () => {
  it('restarts a host with a pending reboot, checks it again, then patches it, all in one run', () => {
    const fleet = labFleet([{ server: 'PENDING', simulation: { pending_reboot: true } }], { timeScale: 0.005 });
    const result = runCli(['--deploy-hotfixes', '--yes', '--clear-pending-reboot', '--config', fleet.config]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(labEvents(fleet.root).map((e) => e.kind)).toEqual(['restart_begin', 'restart_end']);
    expect(actionsOf(fleet.root, 'PENDING').map((a) => [a.kind, a.status ?? 'steps'])).toEqual([
      ['preflight', 'success'],
      ['restart', 'success'],
      ['wait_healthy', 'success'],
      ['preflight', 'success'],
      ['install', 'steps'],
      ['verify', 'success'],
    ]);
    expect(targetsOf(fleet.root).PENDING).toMatchObject({ status: 'success', post_build: '15.0.4395.2' });
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_steps')).toEqual([{ status: 'success' }]);
  });

  it('without it, a pending reboot still skips the host', () => {
    const fleet = labFleet([{ server: 'PENDING', simulation: { pending_reboot: true } }], { timeScale: 0.005 });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code).toBe(1);
    expect(labEvents(fleet.root)).toEqual([]);
    expect(targetsOf(fleet.root).PENDING!.error_message).toMatch(/a reboot is pending/);
  });
});
