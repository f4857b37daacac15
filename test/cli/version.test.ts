import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildProgram, HELP_EXAMPLES, readOptions } from '../../src/cli/options.js';
import { VERSION } from '../../src/version.js';
import { runCli } from '../helpers/runCli.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
const shippedCatalog = JSON.parse(readFileSync('src/catalog/build-catalog.json', 'utf8')) as { last_updated: string };

/** The example command lines of --help, as argument lists (backslashes as the shell leaves them). */
function exampleCommands(help: string): string[][] {
  return help
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('autodbaudit '))
    .map((line) => line.split(/\s+/).slice(1));
}

describe('--version', () => {
  it('prints the version of package.json, on a line of its own, and exits 0 without a configuration', () => {
    expect(VERSION).toBe(pkg.version);
    const result = runCli(['--version', '--config', 'no/such/audit_config.json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${pkg.version}\n`);
    expect(result.stderr).toBe('');
  });

  it('with --json: the version, the Node.js release and the build catalog date', () => {
    const result = runCli(['--version', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.endsWith('\n')).toBe(true);
    expect(JSON.parse(result.stdout)).toEqual({
      version: pkg.version,
      node: process.versions.node,
      catalog_last_updated: shippedCatalog.last_updated.slice(0, 10),
    });
  });
});

describe('--help', () => {
  it('ends with examples of plan, deploy, resume, retry, history and report, each a command line the tool accepts', () => {
    const result = runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout.endsWith(`${HELP_EXAMPLES.trimEnd()}\n`)).toBe(true);
    const commands = exampleCommands(result.stdout);
    for (const flags of [['--hotfix-plan'], ['--deploy-hotfixes'], ['--resume'], ['--retry-failed'], ['--hotfix-history'], ['--hotfix-report']]) {
      expect(commands.some((c) => flags.every((f) => c.includes(f))), flags.join(' ')).toBe(true);
    }
    for (const args of commands) {
      // Each example parses: no flag in the help that the program would refuse.
      const program = buildProgram().exitOverride();
      program.parse(args, { from: 'user' });
      expect(readOptions(program).config).toBe('C:\\AutoDBAudit\\config\\audit_config.json');
    }
  });
});
