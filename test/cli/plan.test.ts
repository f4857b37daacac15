import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { labFleet, readHistory } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';

/** A copy of the example lab without its output folder, so an earlier demo run changes nothing here. */
function exampleCopy(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'ada-example-'));
  for (const dir of ['config', 'hotfixes']) cpSync(path.resolve('test/fixtures/standalone-lab', dir), path.join(root, dir), { recursive: true });
  return path.join(root, 'config/audit_config.json');
}
const EXAMPLE = exampleCopy();

describe('--hotfix-plan on the example lab', () => {
  it('prints exactly the plan object with --json, and nothing else', () => {
    const result = runCli(['--hotfix-plan', '--offline', '--json', '--config', EXAMPLE]);
    expect(result.code, result.stderr).toBe(0);
    const plan = JSON.parse(result.stdout);
    expect(Object.keys(plan)).toEqual(['targets', 'summary', 'schedule']);
    expect(plan.summary).toEqual({ pending: 12, up_to_date: 1, unsupported: 1, no_mapping: 1, invalid_version: 1, unreachable: 0 });
    for (const t of plan.targets) {
      expect(Object.keys(t).sort()).toEqual(
        ['server', 'instance', 'current_build', 'version_family', 'edition', 'status', 'target_build', 'requires_restart', 'message', 'steps', 'catalog'].sort(),
      );
      for (const s of t.steps) expect(Object.keys(s).sort()).toEqual(['command', 'installer', 'order', 'path', 'required']);
    }
    const chained = plan.targets.find((t: { server: string; instance: string }) => t.server === 'LAB-SQL03' && t.instance === 'MSSQLSERVER');
    expect(chained.steps.map((s: { installer: string }) => s.installer)).toEqual(['SQLServer2019-KB5023049-x64.exe', 'SQLServer2019-KB5046859-x64.exe']);
  });

  it('prints one block per instance and a summary line, and says once that versions are recorded', () => {
    const result = runCli(['--hotfix-plan', '--offline', '--config', EXAMPLE]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('LAB-SQL09\\MSSQLSERVER  13.0.6300.2  SQL Server 2016  Enterprise Edition (64-bit)');
    expect(result.stdout).toMatch(/pending → 13\.0\.6441\.1 {2}SP3 \+ CU17 for SQL Server 2016 {2}\[restart will be needed\]/);
    expect(result.stdout).toContain('1. SQLServer2016-SP3-KB5003279-x64.exe  (required)');
    expect(result.stdout).toContain('2. SQLServer2016-KB5029186-x64.exe  (optional)');
    expect(result.stdout).toContain('unsupported: SQL Server 2008 R2 is out of support.');
    expect(result.stdout.match(/versions as recorded/g)).toHaveLength(1);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe(
      'Summary: 12 pending, 1 up to date, 1 unsupported, 1 no mapping, 1 invalid version, 0 unreachable',
    );
  });

  it('limits the plan with --server HOST and HOST\\INSTANCE', () => {
    const result = runCli(['--hotfix-plan', '--offline', '--json', '--server', 'lab-sql03', '--server', 'LAB-SQL11\\ARCHIVE', '--config', EXAMPLE]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).targets.map((t: { server: string; instance: string }) => `${t.server}\\${t.instance}`)).toEqual([
      'LAB-SQL03\\MSSQLSERVER',
      'LAB-SQL03\\SALES',
      'LAB-SQL11\\ARCHIVE',
    ]);
  });
});

describe('targets from history.db', () => {
  it('--import-targets records the file into servers, and active servers rows are planned without duplicates', () => {
    const fleet = labFleet([{ server: 'A', version: '15.0.4298.1' }, { server: 'B', version: '16.0.4085.0' }]);
    const imported = runCli(['--import-targets', '--config', fleet.config]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(readHistory<{ server: string; version: string; is_active: number }>(fleet.root, 'SELECT server, version, is_active FROM servers ORDER BY server')).toEqual([
      { server: 'A', version: '15.0.4298.1', is_active: 1 },
      { server: 'B', version: '16.0.4085.0', is_active: 1 },
    ]);
    // Both sources: no duplicates.
    const both = JSON.parse(runCli(['--hotfix-plan', '--offline', '--json', '--config', fleet.config]).stdout);
    expect(both.targets.map((t: { server: string }) => t.server)).toEqual(['A', 'B']);
    // Without the targets file, the servers table alone.
    rmSync(path.join(fleet.root, 'config/sql_targets.json'));
    const fromDb = runCli(['--hotfix-plan', '--offline', '--json', '--config', fleet.config]);
    expect(fromDb.code).toBe(0);
    expect(fromDb.stderr).toContain('not found; targets come from the servers table');
    expect(JSON.parse(fromDb.stdout).targets.map((t: { server: string; status: string }) => [t.server, t.status])).toEqual([
      ['A', 'pending'],
      ['B', 'pending'],
    ]);
  });
});

describe('--log-level and --verbose', () => {
  it('keeps debug lines out of the log by default and puts them in with --log-level DEBUG', () => {
    const fleet = labFleet([{ server: 'A' }]);
    expect(runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]).code).toBe(0);
    const logs = () => readdirSync(path.join(fleet.root, 'output/logs')).map((f) => readFileSync(path.join(fleet.root, 'output/logs', f), 'utf8'));
    expect(logs()[0]).not.toContain('DEBUG');
    const fleet2 = labFleet([{ server: 'A' }]);
    const verbose = runCli(['--deploy-hotfixes', '--yes', '--log-level', 'DEBUG', '--verbose', '--config', fleet2.config]);
    expect(verbose.code).toBe(0);
    const log = readdirSync(path.join(fleet2.root, 'output/logs')).map((f) => readFileSync(path.join(fleet2.root, 'output/logs', f), 'utf8'))[0]!;
    expect(log).toMatch(/DEBUG A \(MSSQLSERVER\): CU30\.exe: command parameters: \/quiet/);
    expect(verbose.stdout).toContain('DEBUG');
  });

  it('rejects an unknown log level with exit 2', () => {
    const result = runCli(['--hotfix-plan', '--offline', '--log-level', 'LOUD', '--config', EXAMPLE]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('expected DEBUG, INFO, WARN or ERROR');
  });
});
