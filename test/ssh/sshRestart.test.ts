import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { targetSchema } from '../../src/config/schemas.js';
import { LabWorld } from '../../src/lab/world.js';
import Database from '../../src/store/sqlite.js';
import { labInstaller, mapping, writeConfigTree } from '../helpers/configTree.js';
import { LAB_MAPPINGS, readHistory } from '../helpers/labFleet.js';
import { runCliAsync } from '../helpers/runCli.js';
import { SshTestBed } from '../helpers/sshTestBed.js';
import { requirePwsh } from '../powershell/pwsh.js';

// A restart over SSH through the built CLI: the restart is requested through the real operation
// (Restart.ps1) behind a real sshd; while the lab world has the host down, the bed kills that host's
// sshd and its sessions, as a rebooting Windows server takes its SSH service with it, and starts a new
// one when the world has the host back. The transport must open new sessions to see it healthy.

const TIME_SCALE = 0.01;
const pwsh = requirePwsh();

const HOSTS: Record<string, { version: string; simulation: Record<string, unknown> }> = {
  // Asks for a restart (3010); 300 simulated seconds down = 3 s.
  'SSH-R3010': { version: '16.0.4085.0', simulation: { restart_seconds: 300, installers: { 'CU16.exe': { exit_codes: [3010] } } } },
  // Asks for nothing; `restart: always` restarts it anyway.
  'SSH-PLAIN': { version: '15.0.4298.1', simulation: { restart_seconds: 200 } },
};

let bed: SshTestBed;
let work: string;
let worldFile: string;
let failed = false;

beforeAll(async () => {
  work = writeConfigTree({});
  worldFile = path.join(work, 'output', 'lab', 'world.db');
  const targets = Object.entries(HOSTS).map(([server, host]) =>
    targetSchema.parse({ server, transport: 'simulated', simulation: { version: host.version, edition: 'Standard Edition (64-bit)', ...host.simulation } }),
  );
  LabWorld.open(worldFile, targets, { timeScale: TIME_SCALE }).close();
  bed = await SshTestBed.start({ worldFile, timeScale: TIME_SCALE, hosts: Object.keys(HOSTS) });
}, 60_000);

beforeEach((context) => {
  context.onTestFailed(() => {
    failed = true;
  });
});

afterAll(async () => {
  await bed?.stop({ keepFiles: failed });
  if (failed) process.stderr.write(`kept for inspection: ${bed?.dir}, ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
});

function sshRoot(): string {
  const root = writeConfigTree(
    {
      'config/audit_config.json': {
        schema_version: 1,
        hotfix: {
          transport: 'ssh',
          restart: 'always',
          restart_timeout_minutes: 2,
          step_timeout_minutes: 1,
          staging_dir: path.join(work, 'staging'),
          credentials: { bed: { username: bed.user, key_file: 'keys/client_ed25519' } },
          ssh: { known_hosts: 'config/known_hosts', powershell: pwsh, connect_timeout_seconds: 10, keepalive_seconds: 5 },
        },
        lab: { time_scale: TIME_SCALE, ssh_surfaces: true },
      },
      'config/known_hosts': bed.knownHosts(),
      'config/hotfix_mapping.json': mapping(LAB_MAPPINGS),
      'config/sql_targets.json': {
        schema_version: 1,
        targets: Object.entries(HOSTS).map(([server, host]) => ({
          server,
          instance: 'MSSQLSERVER',
          port: bed.host(server).port,
          credential: 'bed',
          version: host.version,
        })),
      },
      'hotfixes/2019/CU19.exe': labInstaller('2019', '15.0.4298.1', 100),
      'hotfixes/2019/CU30.exe': labInstaller('2019', '15.0.4395.2', 100),
      'hotfixes/2022/CU16.exe': labInstaller('2022', '16.0.4165.4', 100),
      'hotfixes/2016/SP3.exe': labInstaller('2016', '13.0.6404.1', 100),
      'hotfixes/2016/CU17.exe': labInstaller('2016', '13.0.6441.1', 100),
    },
  );
  mkdirSync(path.join(root, 'keys'));
  copyFileSync(bed.clientKey, path.join(root, 'keys/client_ed25519'));
  return root;
}

function restartEvents(): { server: string; kind: string; detail: string }[] {
  const db = new Database(worldFile, { readonly: true });
  try {
    return db.prepare("SELECT server, kind, detail FROM lab_events WHERE kind IN ('restart_begin', 'restart_end') ORDER BY id").all() as {
      server: string;
      kind: string;
      detail: string;
    }[];
  } finally {
    db.close();
  }
}

describe('a restart over SSH through the CLI', () => {
  it('restarts each host once (restart: always), waits through its sshd going away, and verifies it again over a new session', async () => {
    const root = sshRoot();
    const following = bed.followRestarts();
    let result: Awaited<ReturnType<typeof runCliAsync>>;
    try {
      result = await runCliAsync(['--deploy-hotfixes', '--yes', '--config', path.join(root, 'config/audit_config.json')]);
    } finally {
      const followed = await following();
      // Each host's sshd went down with its restart and came back: the orchestrator saw a real reboot.
      for (const server of Object.keys(HOSTS)) expect(followed.get(server), server).toEqual({ down: 1, up: 1 });
    }
    expect(result.code, result.stdout + result.stderr).toBe(0);

    const events = restartEvents();
    for (const server of Object.keys(HOSTS)) {
      expect(events.filter((e) => e.server === server).map((e) => e.kind), server).toEqual(['restart_begin', 'restart_end']);
      expect(JSON.parse(events.find((e) => e.server === server)!.detail).comment).toMatch(/^AutoDBAudit run 1: /);
    }

    const actions = readHistory<{ server: string; kind: string; status: string | null; detail: string }>(
      root,
      'SELECT server, kind, status, detail FROM hotfix_actions ORDER BY server, seq',
    );
    for (const server of Object.keys(HOSTS)) {
      const mine = actions.filter((a) => a.server === server);
      expect(mine.map((a) => [a.kind, a.status ?? 'steps']), server).toEqual([
        ['preflight', 'success'],
        ['install', 'steps'],
        ['verify', 'success'],
        ['restart', 'success'],
        ['wait_healthy', 'success'],
        ['verify', 'success'],
      ]);
      const restart = JSON.parse(mine[3]!.detail) as { boot_before: string; answer: string };
      const wait = JSON.parse(mine[4]!.detail) as { boot_after: string; back_ms: number };
      expect(Date.parse(wait.boot_after), server).toBeGreaterThan(Date.parse(restart.boot_before));
      // Down for its restart_seconds × time_scale at least: the wait really waited.
      expect(wait.back_ms, server).toBeGreaterThanOrEqual(HOSTS[server]!.simulation.restart_seconds as number * TIME_SCALE * 1000);
    }

    const targets = readHistory<{ server: string; status: string; post_build: string; requires_restart: number }>(
      root,
      'SELECT server, status, post_build, requires_restart FROM hotfix_targets ORDER BY server',
    );
    expect(targets).toEqual([
      { server: 'SSH-PLAIN', status: 'success', post_build: '15.0.4395.2', requires_restart: 0 },
      { server: 'SSH-R3010', status: 'success', post_build: '16.0.4165.4', requires_restart: 0 },
    ]);
    expect(result.stdout).toMatch(/^ {2}SSH-R3010: restarted after patching at .*; back and healthy after [\d.]+ s$/m);
    expect(result.stdout).toMatch(/^ {2}SSH-PLAIN: restarted after patching at .*; back and healthy after [\d.]+ s$/m);
  }, 300_000);
});
