import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from '../../src/store/sqlite.js';
import { afterEach, describe, expect, it } from 'vitest';
import { targetSchema } from '../../src/config/schemas.js';
import { labSignatureOf } from '../../src/lab/installerFile.js';
import { LabWorld } from '../../src/lab/world.js';

const dirs: string[] = [];
function worldFile(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ada-lab-events-'));
  dirs.push(dir);
  return path.join(dir, 'world.db');
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const targets = [
  targetSchema.parse({
    server: 'LAB1',
    transport: 'simulated',
    simulation: {
      version: '15.0.4298.0',
      agent_state: 'absent',
      engine_state: 'stopped',
      unlisted_instances: [{ instance: 'REPORTS', version: '15.0.4236.7', edition: 'Express Edition (64-bit)' }],
    },
  }),
  targetSchema.parse({ server: 'LAB1', instance: 'SALES', transport: 'simulated', simulation: { version: '15.0.4298.0' } }),
];

describe('the lab world', () => {
  it('appends events to lab_events with real UTC time in milliseconds, oldest first, per host', () => {
    let now = Date.parse('2026-03-01T10:00:00.123Z');
    const world = LabWorld.open(worldFile(), targets, { timeScale: 0.01, clock: () => now });
    const first = world.appendEvent({ server: 'LAB1', instance: 'MSSQLSERVER', kind: 'instance_broken', detail: { reason: 'killed' } });
    now += 5;
    world.appendEvent({ server: 'LAB2', kind: 'restart_begin' });
    now += 5;
    world.appendEvent({ server: 'lab1', kind: 'restart_end' });
    const all = world.events();
    expect(all.map((e) => [e.at, e.server, e.instance, e.kind, JSON.parse(e.detail)])).toEqual([
      ['2026-03-01T10:00:00.123Z', 'LAB1', 'MSSQLSERVER', 'instance_broken', { reason: 'killed' }],
      ['2026-03-01T10:00:00.128Z', 'LAB2', null, 'restart_begin', {}],
      ['2026-03-01T10:00:00.133Z', 'lab1', null, 'restart_end', {}],
    ]);
    expect(all[0]!.id).toBe(first);
    expect(world.events('LAB1').map((e) => e.kind)).toEqual(['instance_broken', 'restart_end']);
    world.close();
  });

  it('seeds instance states and the unlisted instances of a host', () => {
    const world = LabWorld.open(worldFile(), targets, { timeScale: 0.01 });
    expect(world.instances('LAB1').map((i) => [i.instance, i.version, i.edition, i.agent_state, i.engine_state])).toEqual([
      ['MSSQLSERVER', '15.0.4298.0', null, 'absent', 'stopped'],
      ['REPORTS', '15.0.4236.7', 'Express Edition (64-bit)', 'running', 'running'],
      ['SALES', '15.0.4298.0', null, 'running', 'running'],
    ]);
    world.close();
  });

  it('opens a world written before instance states and lab_events existed', () => {
    const file = worldFile();
    const old = new Database(file);
    old.exec(`CREATE TABLE lab_instances (server TEXT NOT NULL COLLATE NOCASE, instance TEXT NOT NULL COLLATE NOCASE, version TEXT, edition TEXT,
      PRIMARY KEY (server, instance));
      INSERT INTO lab_instances VALUES ('LAB1', 'MSSQLSERVER', '15.0.4100.1', NULL);`);
    old.close();
    const world = LabWorld.open(file, targets, { timeScale: 0.01 });
    const instance = world.instances('LAB1').find((i) => i.instance === 'MSSQLSERVER')!;
    expect([instance.version, instance.agent_state, instance.engine_state]).toEqual(['15.0.4100.1', 'running', 'running']);
    world.appendEvent({ server: 'LAB1', kind: 'restart_begin' });
    expect(world.events()).toHaveLength(1);
    world.close();
  });
});

describe('lab installer files', () => {
  const file = (extra: Record<string, unknown>) => JSON.stringify({ lab_installer: 1, family: '2019', sets_build: '15.0.4395.2', ...extra });

  it("report Microsoft's signer by default, another signer when they name one, none when not signed", () => {
    expect(labSignatureOf(file({}))).toEqual({
      status: 'Valid',
      signer: 'CN=Microsoft Corporation, O=Microsoft Corporation, L=Redmond, S=Washington, C=US',
    });
    expect(labSignatureOf(file({ signer: 'CN=Contoso Ltd' }))).toEqual({ status: 'Valid', signer: 'CN=Contoso Ltd' });
    expect(labSignatureOf(file({ signature: 'NotSigned' }))).toEqual({ status: 'NotSigned', signer: null });
    expect(labSignatureOf('MZ not a lab installer')).toEqual({ status: 'HashMismatch', signer: null });
  });
});
