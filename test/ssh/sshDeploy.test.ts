import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { targetSchema } from '../../src/config/schemas.js';
import { LabWorld } from '../../src/lab/world.js';
import { labInstaller, mapping, writeConfigTree } from '../helpers/configTree.js';
import { LAB_MAPPINGS, labExecutions, readHistory } from '../helpers/labFleet.js';
import { runCliAsync } from '../helpers/runCli.js';
import { freePort, SshTestBed } from '../helpers/sshTestBed.js';
import { requirePwsh } from '../powershell/pwsh.js';

// Deployments over SSH through the built CLI: real sshd per host on 127.0.0.1, the real operations
// under pwsh behind each, the lab world standing in for Windows and SQL Server (lab.ssh_surfaces).

const TIME_SCALE = 0.01;
const pwsh = requirePwsh();

/** The lab's state of each host, as sql_targets.json `simulation` blocks would give it. */
const HOSTS: Record<string, { version: string; simulation?: Record<string, unknown> }> = {
  'SSH-3010': { version: '16.0.4085.0', simulation: { installers: { 'CU16.exe': { exit_codes: [3010] } } } },
  'SSH-1603': { version: '15.0.4298.1', simulation: { installers: { 'CU30.exe': { exit_codes: [1603] } } } },
  'SSH-REBOOT': { version: '15.0.4298.1', simulation: { pending_reboot: true } },
  // Succeeds, but loses its sshd in the middle of its 10 s install.
  'SSH-DROP': { version: '15.0.4298.1', simulation: { installers: { 'CU30.exe': { seconds: 1000 } } } },
  'SSH-BADKEY': { version: '15.0.4298.1' },
  'SSH-BADCRED': { version: '15.0.4298.1' },
};

let bed: SshTestBed;
let worldFile: string;
let work: string;
let downPort: number;
/** Configuration roots made by the tests, removed with the bed. */
const roots: string[] = [];

beforeAll(async () => {
  work = writeConfigTree({});
  // Where labExecutions() reads a lab's execution log: <work>/output/lab/world.db.
  worldFile = path.join(work, 'output', 'lab', 'world.db');
  const targets = Object.entries(HOSTS).map(([server, host]) =>
    targetSchema.parse({
      server,
      transport: 'simulated',
      simulation: { version: host.version, edition: 'Standard Edition (64-bit)', ...(host.simulation ?? {}) },
    }),
  );
  LabWorld.open(worldFile, targets, { timeScale: TIME_SCALE }).close();
  bed = await SshTestBed.start({ worldFile, timeScale: TIME_SCALE, hosts: Object.keys(HOSTS) });
  downPort = await freePort();
}, 60_000);

// A failed test keeps its roots (history.db, logs, the lab world, sshd logs) for a look afterwards.
let failed = false;
beforeEach((context) => {
  context.onTestFailed(() => {
    failed = true;
  });
});

afterAll(async () => {
  await bed?.stop({ keepFiles: failed });
  if (failed) {
    process.stderr.write(`kept for inspection: ${[bed?.dir, work, ...roots].join(', ')}\n`);
    return;
  }
  for (const dir of [work, ...roots]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A configuration root whose ssh targets are the bed's hosts; the world lives in the bed's folder. */
function sshRoot(servers: readonly string[]): string {
  const known = bed.knownHosts(Object.keys(HOSTS).filter((name) => name !== 'SSH-BADKEY'));
  // SSH-BADKEY's name with another host's key: the key it offers is not the one recorded.
  const wrongKey = `[ssh-badkey]:${bed.host('SSH-BADKEY').port} ${bed.host('SSH-DROP').publicKey}\n`;
  const root = writeConfigTree({
    'config/audit_config.json': {
      schema_version: 1,
      hotfix: {
        transport: 'ssh',
        max_concurrent_servers: 8,
        step_timeout_minutes: 1,
        staging_dir: path.join(work, 'staging'),
        credentials: {
          bed: { username: bed.user, key_file: 'keys/client_ed25519' },
          stranger: { username: bed.user, key_file: 'keys/stranger_ed25519' },
        },
        ssh: { known_hosts: 'config/known_hosts', powershell: pwsh, connect_timeout_seconds: 10, keepalive_seconds: 5 },
      },
      lab: { time_scale: TIME_SCALE, ssh_surfaces: true },
    },
    'config/known_hosts': known + wrongKey,
    'config/hotfix_mapping.json': mapping(LAB_MAPPINGS),
    'config/sql_targets.json': {
      schema_version: 1,
      targets: servers.map((server) => ({
        server,
        instance: 'MSSQLSERVER',
        port: server === 'SSH-DOWN' ? downPort : bed.host(server).port,
        credential: server === 'SSH-BADCRED' ? 'stranger' : 'bed',
        version: HOSTS[server]?.version ?? '15.0.4298.1',
      })),
    },
    'hotfixes/2019/CU19.exe': labInstaller('2019', '15.0.4298.1', 100),
    'hotfixes/2019/CU30.exe': labInstaller('2019', '15.0.4395.2', 100),
    'hotfixes/2022/CU16.exe': labInstaller('2022', '16.0.4165.4', 100),
    'hotfixes/2016/SP3.exe': labInstaller('2016', '13.0.6404.1', 100),
    'hotfixes/2016/CU17.exe': labInstaller('2016', '13.0.6441.1', 100),
  });
  mkdirSync(path.join(root, 'keys'));
  copyFileSync(bed.clientKey, path.join(root, 'keys/client_ed25519'));
  copyFileSync(bed.strangerKey, path.join(root, 'keys/stranger_ed25519'));
  roots.push(root);
  return root;
}

interface TargetRow {
  server: string;
  status: string;
  post_build: string | null;
  requires_restart: number;
  error_message: string | null;
  reached: number;
}
interface StepRow {
  server: string;
  status: string;
  exit_code: number | null;
  error_message: string | null;
}

function targetsOf(root: string): Record<string, TargetRow> {
  const rows = readHistory<TargetRow>(root, 'SELECT server, status, post_build, requires_restart, error_message, reached FROM hotfix_targets');
  return Object.fromEntries(rows.map((row) => [row.server, row]));
}

function stepsOf(root: string): Record<string, StepRow> {
  const rows = readHistory<StepRow>(
    root,
    'SELECT t.server, s.status, s.exit_code, s.error_message FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id',
  );
  return Object.fromEntries(rows.map((row) => [row.server, row]));
}

function executionsByHost(): Record<string, { exit_code: number | null; finished_at: string | null }[]> {
  const byHost: Record<string, { exit_code: number | null; finished_at: string | null }[]> = {};
  for (const e of labExecutions(work)) byHost[e.server] = [...(byHost[e.server] ?? []), e];
  return byHost;
}

async function until(condition: () => boolean, seconds: number, what: string): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a deployment over SSH through the CLI', () => {
  it('patches, fails and skips per host, survives a lost sshd, and --resume settles it without a second install', async () => {
    const root = sshRoot([...Object.keys(HOSTS), 'SSH-DOWN']);
    const config = path.join(root, 'config/audit_config.json');
    const run = runCliAsync(['--deploy-hotfixes', '--yes', '--config', config]);
    // SSH-DROP's sshd dies (with its sessions) while its installer runs; the installer goes on.
    await until(() => (executionsByHost()['SSH-DROP'] ?? []).length > 0, 180, "SSH-DROP's installer to start");
    bed.kill('SSH-DROP');
    const first = await run;
    expect(first.code, first.stdout + first.stderr).toBe(1);

    const targets = targetsOf(root);
    const steps = stepsOf(root);
    const staged = readHistory<{ message: string }>(root, "SELECT message FROM hotfix_events WHERE kind = 'staged' AND server = 'SSH-3010'");
    expect(staged[0]?.message).toMatch(
      /^SSH-3010: CU16\.exe copied and staged at .*CU16\.exe \(SHA-256 [0-9a-f]{12}… verified; Authenticode Valid, signed by CN=Microsoft Corporation, O=Microsoft Corporation, L=Redmond, S=Washington, C=US\)$/,
    );
    expect(targets['SSH-3010']).toMatchObject({ status: 'success', post_build: '16.0.4165.4', requires_restart: 1 });
    expect(steps['SSH-3010']).toMatchObject({ status: 'success', exit_code: 3010 });
    expect(targets['SSH-1603']).toMatchObject({ status: 'failed', post_build: '15.0.4298.1' });
    expect(steps['SSH-1603']).toMatchObject({ status: 'failed', exit_code: 1603 });
    expect(steps['SSH-1603']!.error_message).toMatch(/SSH-1603 \(MSSQLSERVER\): CU30\.exe exited 1603 \(fatal error during installation.*\); see .*SSH-1603.*Summary.*\.txt$/);
    expect(targets['SSH-REBOOT']).toMatchObject({ status: 'skipped', reached: 1 });
    expect(targets['SSH-REBOOT']!.error_message).toContain('SSH-REBOOT: skipped by pre-flight: a reboot is pending (Component Based Servicing: RebootPending)');

    expect(targets['SSH-DROP']).toMatchObject({ status: 'in_progress' });
    expect(steps['SSH-DROP']!.status).toBe('interrupted');
    expect(targets['SSH-DROP']!.error_message).toMatch(
      /^SSH-DROP \(MSSQLSERVER\): CU30\.exe: lost contact while the installer was running \(the SSH connection broke and 3 attempts to reconnect failed; last: connection refused at 127\.0\.0\.1 port \d+.*\); it may still be running on the target: run --deploy-hotfixes --resume to settle it$/,
    );

    const unreachable = (server: string) => {
      expect(targets[server]).toMatchObject({ status: 'skipped', reached: 0 });
      return targets[server]!.error_message ?? '';
    };
    expect(unreachable('SSH-BADKEY')).toContain(`HOST KEY CHANGED: SSH-BADKEY port ${bed.host('SSH-BADKEY').port} offered ssh-ed25519 key SHA256:`);
    expect(unreachable('SSH-BADCRED')).toContain(`authentication as "${bed.user}" failed: the server refused credential "stranger" (its private key)`);
    expect(unreachable('SSH-DOWN')).toContain(`connection refused at 127.0.0.1 port ${downPort}`);

    const executions = executionsByHost();
    expect(Object.keys(executions).sort()).toEqual(['SSH-1603', 'SSH-3010', 'SSH-DROP']);
    expect(executions['SSH-3010']!.map((e) => e.exit_code)).toEqual([3010]);
    expect(executions['SSH-1603']!.map((e) => e.exit_code)).toEqual([1603]);
    expect(readHistory<{ status: string }>(root, 'SELECT status FROM hotfix_runs')).toEqual([{ status: 'interrupted' }]);

    await bed.restart('SSH-DROP');
    const resumed = await runCliAsync(['--deploy-hotfixes', '--resume', '--yes', '--config', config]);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(1);
    expect(resumed.stdout).toMatch(/SSH-DROP \(MSSQLSERVER\): CU30\.exe: (still running on the target; waiting for it|found finished on the target while resuming)/);
    expect(targetsOf(root)['SSH-DROP']).toMatchObject({ status: 'success', post_build: '15.0.4395.2' });
    expect(stepsOf(root)['SSH-DROP']).toMatchObject({ status: 'success', exit_code: 0 });
    expect(executionsByHost()['SSH-DROP']!.map((e) => e.exit_code)).toEqual([0]);
    expect(readHistory<{ status: string }>(root, 'SELECT status FROM hotfix_runs')).toEqual([{ status: 'failed' }]);
  }, 400_000);

  it('exits 3 when no host can be reached, and runs nothing', async () => {
    const before = labExecutions(work).length;
    const root = sshRoot(['SSH-BADKEY', 'SSH-BADCRED', 'SSH-DOWN']);
    const result = await runCliAsync(['--deploy-hotfixes', '--yes', '--config', path.join(root, 'config/audit_config.json')]);
    expect(result.code, result.stdout + result.stderr).toBe(3);
    expect(result.stdout + result.stderr).toContain('HOST KEY CHANGED: SSH-BADKEY');
    expect(result.stdout + result.stderr).toContain(`connection refused at 127.0.0.1 port ${downPort}`);
    expect(labExecutions(work).length).toBe(before);
  }, 60_000);
});
