import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabWorld } from '../../src/lab/world.js';
import { type SshFixture, startSshFixture } from './sshFixture.js';

// The target-side safeguards over a real sshd, the real operations running under pwsh with the lab
// behind the Windows-only surfaces (Surfaces.Lab.ps1).

let fixture: SshFixture;
beforeAll(async () => {
  fixture = await startSshFixture([{ name: 'SSH-SAFE' }, { name: 'SSH-OWNED', simulation: { staging_folder: { owner: 'LAB\\mallory', writable_by: ['BUILTIN\\Users'] } } }]);
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
