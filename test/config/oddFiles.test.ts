import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_CONFIG_FILE_BYTES, readBoundedText } from '../../src/config/boundedFile.js';
import { loadBuildCatalog } from '../../src/config/buildCatalog.js';
import { updateBuildCatalog } from '../../src/config/catalogUpdate.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { labFleet } from '../helpers/labFleet.js';

/*
 * Files an operator names that are not files: devices, FIFOs, folders, sparse giants. Each is refused
 * before a byte is read (a FIFO without a writer would otherwise wait forever, /dev/zero would be
 * read until memory runs out), with a message naming it.
 */

const POSIX = process.platform !== 'win32';
const REFERENCE = JSON.parse(readFileSync(new URL('../../scripts/catalog/dbatools-buildref-index.json', import.meta.url), 'utf8')) as {
  LastUpdated: string;
  Data: unknown[];
};

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ada-odd-'));
  made.push(dir);
  return dir;
}
function fifo(dir: string, name: string): string {
  const file = path.join(dir, name);
  execFileSync('mkfifo', [file]);
  return file;
}
async function updateProblems(file: string, now = new Date('2026-12-05T09:00:00Z')): Promise<string[]> {
  const dir = tempDir();
  try {
    await updateBuildCatalog({ outputDir: path.join(dir, 'output') }, file, now, dir);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((p) => `${p.file}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
  }
  throw new Error(`${file} was accepted`);
}

describe.skipIf(!POSIX)('readBoundedText', () => {
  it('refuses devices, a FIFO with no writer and a folder without reading them', () => {
    const dir = tempDir();
    const pipe = fifo(dir, 'pipe.json');
    for (const file of ['/dev/zero', '/dev/urandom', pipe]) {
      expect(readBoundedText(file, 'a configuration file')).toEqual({ problem: 'is not a regular file (a device, pipe or socket); name a JSON file' });
    }
    expect(readBoundedText(dir, 'a configuration file')).toEqual({ problem: 'is not a regular file (a folder); name a JSON file' });
  });

  it('refuses a file over the bound by its size, before reading it', () => {
    const big = path.join(tempDir(), 'big.json');
    writeFileSync(big, '');
    truncateSync(big, MAX_CONFIG_FILE_BYTES + 1); // sparse: no disk used
    expect(readBoundedText(big, "dbatools' build reference file")).toEqual({
      problem: `is ${MAX_CONFIG_FILE_BYTES + 1} bytes; dbatools' build reference file is at most ${MAX_CONFIG_FILE_BYTES} bytes`,
    });
    writeFileSync(big, '{"a": 1}');
    expect(readBoundedText(big, 'a configuration file')).toBe('{"a": 1}');
  });
});

describe.skipIf(!POSIX)('--update-catalog FILE that is not a file', () => {
  it.each([['/dev/zero'], ['/dev/urandom']])('refuses %s, naming it', async (device) => {
    expect(await updateProblems(device)).toEqual([`${device}: is not a regular file (a device, pipe or socket); name a JSON file`]);
  });

  it('refuses a FIFO instead of waiting for a writer', async () => {
    const pipe = fifo(tempDir(), 'buildref.json');
    expect(await updateProblems(pipe)).toEqual([`${pipe}: is not a regular file (a device, pipe or socket); name a JSON file`]);
  });
});

describe('--update-catalog with a LastUpdated in the future', () => {
  it('is refused, naming the field, so a real update can still replace the catalog later', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'future.json');
    writeFileSync(file, JSON.stringify({ ...REFERENCE, LastUpdated: '9999-12-31T00:00:00' }));
    expect(await updateProblems(file)).toEqual([
      `${file}: LastUpdated: 9999-12-31T00:00:00 is in the future (today is 2026-12-05); a reference cannot be newer than today: check the file's origin`,
    ]);
    // A day ahead of this clock is a time zone, not a mistake.
    writeFileSync(file, JSON.stringify({ ...REFERENCE, LastUpdated: '2026-12-06T00:00:00' }));
    const output = path.join(dir, 'output');
    const update = await updateBuildCatalog({ outputDir: output }, file, new Date('2026-12-05T09:00:00Z'), dir);
    expect(update.updated).toBe(true);
  });

  it('a stored catalog dated in the future is set aside with a warning and replaced by the next real update', async () => {
    const dir = tempDir();
    const output = path.join(dir, 'output');
    const now = new Date('2026-12-05T09:00:00Z');
    const file = path.join(dir, 'ref.json');
    // Stored as an older release of the tool would have: its date then pushed far ahead.
    writeFileSync(file, JSON.stringify({ ...REFERENCE, LastUpdated: '2026-12-01T00:00:00' }));
    await updateBuildCatalog({ outputDir: output }, file, now, dir);
    const stored = path.join(output, 'catalog/build-catalog.json');
    writeFileSync(stored, readFileSync(stored, 'utf8').replace('"last_updated": "2026-12-01T00:00:00"', '"last_updated": "9999-12-31T00:00:00"'));
    const loaded = await loadBuildCatalog({ outputDir: output }, now);
    expect(loaded.origin).toBe('shipped');
    expect(loaded.warnings).toEqual([expect.stringMatching(/build-catalog\.json: last_updated 9999-12-31T00:00:00 is in the future; using the shipped build catalog/)]);
    writeFileSync(file, JSON.stringify({ ...REFERENCE, LastUpdated: '2026-12-04T00:00:00' }));
    const update = await updateBuildCatalog({ outputDir: output }, file, now, dir);
    expect(update).toMatchObject({ updated: true, offered: '2026-12-04T00:00:00' });
    expect((await loadBuildCatalog({ outputDir: output }, now)).catalog.lastUpdated).toBe('2026-12-04T00:00:00');
  });
});

describe.skipIf(!POSIX)('a configuration file that is a FIFO', () => {
  it('is refused with its name instead of waiting for a writer', () => {
    const fleet = labFleet([{ server: 'A' }]);
    made.push(fleet.root);
    const targets = path.join(fleet.root, 'config/sql_targets.json');
    rmSync(targets);
    mkdirSync(path.dirname(targets), { recursive: true });
    execFileSync('mkfifo', [targets]);
    const result = loadConfig(fleet.config);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([{ file: expect.stringMatching(/sql_targets\.json$/), path: '', message: 'is not a regular file (a device, pipe or socket); name a JSON file' }]);
  });
});
