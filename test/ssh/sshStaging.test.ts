import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseLabInstaller } from '../../src/lab/installerFile.js';
import { labInstaller } from '../helpers/configTree.js';
import { type SshFixture, startSshFixture } from './sshFixture.js';

// A 200 MB installer staged over SFTP: copied once, verified by SHA-256 on the target, skipped when
// it is already there. The file is a lab installer padded with whitespace, so it still parses.

const SIZE = 200 * 1024 * 1024;

/** Writes a lab installer padded with spaces and newlines to exactly `size` bytes. */
function writePaddedInstaller(file: string, size: number): void {
  const head = Buffer.from(labInstaller('2019', '15.0.4395.2', 60));
  const line = Buffer.from(`${' '.repeat(127)}\n`);
  const block = Buffer.alloc(1024 * 1024);
  for (let offset = 0; offset < block.length; offset += line.length) line.copy(block, offset);
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, head);
    let left = size - head.length;
    while (left > 0) {
      const chunk = Math.min(left, block.length);
      writeSync(fd, block, 0, chunk);
      left -= chunk;
    }
  } finally {
    closeSync(fd);
  }
}

function sha256Of(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

let fixture: SshFixture;
beforeAll(async () => {
  fixture = await startSshFixture([{ name: 'SSH-BIG' }]);
}, 60_000);
afterAll(async () => {
  await fixture?.cleanup();
});

it('stages a 200 MB installer over SFTP, verifies its SHA-256 on the target, and skips it the second time', async () => {
  const local = path.join(fixture.work, 'SQLServer2019-KB5046859-x64.exe');
  writePaddedInstaller(local, SIZE);
  const sha256 = await sha256Of(local);
  const host = fixture.bed.host('SSH-BIG');
  const transport = fixture.transport('SSH-BIG');
  const session = await transport.open({ server: 'SSH-BIG', port: host.port, credential: 'bed' });
  const request = { localPath: local, fileName: 'SQLServer2019-KB5046859-x64.exe', sha256, sizeBytes: SIZE, stagingDir: host.stagingDir };

  const first = await session.stage(request);
  expect(first).toEqual({ remotePath: path.join(host.stagingDir, request.fileName), sha256, alreadyPresent: false });
  expect(statSync(first.remotePath).size).toBe(SIZE);
  expect(await sha256Of(first.remotePath)).toBe(sha256);
  // Copied under a temporary name and renamed: nothing half-written is left beside it.
  expect(readdirSync(host.stagingDir).filter((name) => name.endsWith('.partial'))).toEqual([]);

  const again = await session.stage(request);
  expect(again).toEqual({ ...first, alreadyPresent: true });
  await transport.dispose();
  // Still a lab installer: the staged bytes are what a test-bed host would run.
  expect(parseLabInstaller(readFileSync(first.remotePath))).toMatchObject({ lab_installer: 1, sets_build: '15.0.4395.2' });
}, 120_000);
