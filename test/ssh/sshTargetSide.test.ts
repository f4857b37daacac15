import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { LabWorld } from '../../src/lab/world.js';
import { labInstaller, mapping, writeConfigTree } from '../helpers/configTree.js';
import { LAB_MAPPINGS, readHistory } from '../helpers/labFleet.js';
import { runCliAsync } from '../helpers/runCli.js';
import { type SshFixture, startSshFixture } from './sshFixture.js';

// The target-side safeguards over a real sshd, the real operations running under pwsh with the lab
// behind the Windows-only surfaces (Surfaces.Lab.ps1).

let fixture: SshFixture;
beforeAll(async () => {
  fixture = await startSshFixture([
    { name: 'SSH-SAFE' },
    { name: 'SSH-OWNED', simulation: { staging_folder: { owner: 'LAB\\mallory', writable_by: ['BUILTIN\\Users'] } } },
    { name: 'SSH-ASR', simulation: { asr_wmi_rule: 'block' } },
    { name: 'SSH-WIDE', simulation: { version: '15.0.4298.1', unlisted_instances: [{ instance: 'SIDE', version: '15.0.4298.1' }] } },
  ]);
}, 60_000);
afterAll(async () => {
  await fixture?.cleanup();
});

function labEvents(kind: string): { server: string; detail: string }[] {
  const world = LabWorld.open(fixture.worldFile, [], { timeScale: 0.01 });
  try {
    return world.events().filter((e) => e.kind === kind);
  } finally {
    world.close();
  }
}

describe('the staging folder over SSH', () => {
  it('is created protected by the first pre-flight, and found safe by the next', async () => {
    const host = fixture.bed.host('SSH-SAFE');
    const transport = fixture.transport('SSH-SAFE');
    try {
      const session = await transport.open({ server: 'SSH-SAFE', port: host.port, credential: 'bed' });
      const request = { stagingDir: host.stagingDir, instances: ['MSSQLSERVER'], ignorePendingFileRename: false };
      const first = await session.preflight(request);
      expect(first.stagingFolder).toEqual({ path: host.stagingDir, created: true, owner: 'BUILTIN\\Administrators (S-1-5-32-544)', problem: null });
      expect(existsSync(host.stagingDir)).toBe(true);
      expect((await session.preflight(request)).stagingFolder).toMatchObject({ created: false, problem: null });
      expect(labEvents('staging_folder_created').map((e) => [e.server, JSON.parse(e.detail).path])).toEqual([['SSH-SAFE', host.stagingDir]]);
    } finally {
      await transport.dispose();
    }
  }, 60_000);

  it('refuses a folder someone else owns and others can write to: pre-flight names them, staging copies nothing', async () => {
    const host = fixture.bed.host('SSH-OWNED');
    const transport = fixture.transport('SSH-OWNED');
    try {
      const session = await transport.open({ server: 'SSH-OWNED', port: host.port, credential: 'bed' });
      const facts = await session.preflight({ stagingDir: host.stagingDir, instances: [], ignorePendingFileRename: false });
      expect(facts.stagingFolder.created).toBe(false);
      expect(facts.stagingFolder.problem).toMatch(/^it is owned by LAB\\mallory \(S-1-5-21-[0-9-]+\), not by SYSTEM or Administrators; BUILTIN\\Users \(S-1-5-32-545\) can write to it$/);
      const local = fixture.installer('CU30.exe', '2019', '15.0.4395.2', 5);
      const stage = session.stage({ localPath: local, fileName: 'CU30.exe', sha256: '0'.repeat(64), sizeBytes: 10, stagingDir: host.stagingDir });
      await expect(stage).rejects.toThrow(/SSH-OWNED: stagedFile failed: the staging folder ".*" is not safe to run installers from: it is owned by LAB\\mallory/);
      expect(existsSync(host.stagingDir) ? readdirSync(host.stagingDir).filter((n) => n.startsWith('CU30')) : []).toEqual([]);
    } finally {
      await transport.dispose();
    }
  }, 60_000);
});

describe('setup extracted with /x: over SSH', () => {
  it('runs setup.exe from a folder of its own under the staging root and removes it afterwards', async () => {
    const host = fixture.bed.host('SSH-SAFE');
    const transport = fixture.transport('SSH-SAFE');
    try {
      const session = await transport.open({ server: 'SSH-SAFE', port: host.port, credential: 'bed' });
      const local = fixture.installer('CU30.exe', '2019', '15.0.4395.2', 2);
      const bytes = readFileSync(local);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const staged = await session.stage({ localPath: local, fileName: 'CU30.exe', sha256, sizeBytes: bytes.length, stagingDir: host.stagingDir });
      const result = await session.runInstaller({ executionId: 'ssh-extract-1', remotePath: staged.remotePath, parameters: '/quiet /Action=Patch /AllInstances', timeoutMs: 60_000, sha256 });
      expect(result).toMatchObject({ kind: 'exited', exitCode: 0 });
      // The world knows the execution by the package's name, though setup.exe ran from the extraction folder.
      const world = LabWorld.open(fixture.worldFile, [], { timeScale: 0.01 });
      try {
        expect(world.execution('SSH-SAFE', 'ssh-extract-1')).toMatchObject({ installer: 'CU30.exe', exit_code: 0 });
      } finally {
        world.close();
      }
      const extractRoot = path.join(host.stagingDir, 'extract');
      expect(existsSync(extractRoot) ? readdirSync(extractRoot) : []).toEqual([]);
      // Started as a one-shot scheduled task (the lab's stands in for Task Scheduler), removed once it ended.
      const taskFile = path.join(tmpdir(), 'autodbaudit-lab-tasks-SSH-SAFE', 'AutoDBAudit-ssh-extract-1.json');
      expect(existsSync(path.dirname(taskFile))).toBe(true);
      expect(existsSync(taskFile)).toBe(false);
    } finally {
      await transport.dispose();
    }
  }, 90_000);
});

describe('Defender\'s ASR rule over SSH', () => {
  it('pre-flight reports the rule in block mode; a WMI start is refused as never started, a scheduled-task start runs', async () => {
    const host = fixture.bed.host('SSH-ASR');
    const transport = fixture.transport('SSH-ASR');
    try {
      const session = await transport.open({ server: 'SSH-ASR', port: host.port, credential: 'bed' });
      const facts = await session.preflight({ stagingDir: host.stagingDir, instances: [], ignorePendingFileRename: false });
      expect(facts.asrWmiRule).toBe('block');
      const local = fixture.installer('CU30.exe', '2019', '15.0.4395.2', 2);
      const bytes = readFileSync(local);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const staged = await session.stage({ localPath: local, fileName: 'CU30.exe', sha256, sizeBytes: bytes.length, stagingDir: host.stagingDir });
      const byWmi = session.runInstaller({ executionId: 'asr-wmi', remotePath: staged.remotePath, parameters: '/quiet', timeoutMs: 60_000, sha256, startMethod: 'wmi' });
      await expect(byWmi).rejects.toMatchObject({ remoteType: 'InstallerStartFailed' });
      await expect(byWmi).rejects.toThrow(/could not be started through WMI: Win32_Process\.Create was blocked by the attack surface reduction rule/);
      const byTask = await session.runInstaller({ executionId: 'asr-task', remotePath: staged.remotePath, parameters: '/quiet', timeoutMs: 60_000, sha256 });
      expect(byTask).toMatchObject({ kind: 'exited', exitCode: 0 });
    } finally {
      await transport.dispose();
    }
  }, 90_000);
});

describe('instances no target names, over SSH through the built CLI', () => {
  it('finds the instance /AllInstances patches with the planned one in what the host reports, and records it patched alongside', async () => {
    const host = fixture.bed.host('SSH-WIDE');
    const root = writeConfigTree({
      'config/audit_config.json': {
        schema_version: 1,
        hotfix: {
          transport: 'ssh',
          step_timeout_minutes: 2,
          staging_dir: host.stagingDir,
          credentials: { bed: { username: fixture.bed.user, key_file: 'keys/client_ed25519' } },
          ssh: { known_hosts: 'config/known_hosts', powershell: fixture.pwsh, connect_timeout_seconds: 10 },
        },
        lab: { time_scale: 0.01, ssh_surfaces: true },
      },
      'config/known_hosts': fixture.bed.knownHosts(['SSH-WIDE']),
      'config/hotfix_mapping.json': mapping(LAB_MAPPINGS),
      'config/sql_targets.json': {
        schema_version: 1,
        targets: [{ server: 'SSH-WIDE', instance: 'MSSQLSERVER', port: host.port, credential: 'bed', version: '15.0.4298.1' }],
      },
      'hotfixes/2019/CU30.exe': labInstaller('2019', '15.0.4395.2', 100),
    });
    mkdirSync(path.join(root, 'keys'));
    copyFileSync(fixture.bed.clientKey, path.join(root, 'keys/client_ed25519'));
    onTestFinished((context) => {
      if (context.task.result?.state === 'pass') rmSync(root, { recursive: true, force: true });
    });
    const result = await runCliAsync(['--deploy-hotfixes', '--yes', '--config', path.join(root, 'config/audit_config.json')]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const targets = readHistory<{ instance: string; status: string; pre_build: string; post_build: string; patched_alongside: number }>(
      root,
      'SELECT instance, status, pre_build, post_build, patched_alongside FROM hotfix_targets ORDER BY instance',
    );
    expect(targets).toEqual([
      { instance: 'MSSQLSERVER', status: 'success', pre_build: '15.0.4298.1', post_build: '15.0.4395.2', patched_alongside: 0 },
      { instance: 'SIDE', status: 'success', pre_build: '15.0.4298.1', post_build: '15.0.4395.2', patched_alongside: 1 },
    ]);
    expect(result.stdout).toContain('SSH-WIDE\\SIDE: success, 15.0.4298.1 → 15.0.4395.2');
  }, 180_000);
});
