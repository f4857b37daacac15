import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { labAuditConfig, mapping, writeConfigTree } from '../helpers/configTree.js';
import { runCli } from '../helpers/runCli.js';

const goodMapping = mapping([{ family: '2019', min: '15.0.4298.0', target: '15.0.4395.2', files: [{ name: 'CU30.exe' }] }]);
const goodTargets = { schema_version: 1, targets: [{ server: 'SQL1', instance: 'MSSQLSERVER', transport: 'simulated', version: '15.0.4298.0' }] };

interface Case {
  readonly name: string;
  readonly files: Record<string, unknown>;
  /** Every one of these must appear in stderr, e.g. `hotfix_mapping.json: mappings[0].files[0]!.order`. */
  readonly expect: readonly string[];
}

function tree(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    'config/audit_config.json': labAuditConfig(),
    'config/hotfix_mapping.json': goodMapping,
    'config/sql_targets.json': goodTargets,
    'hotfixes/2019/CU30.exe': 'x',
    ...overrides,
  };
}

interface MappingShape {
  mappings: (Record<string, unknown> & { files: Record<string, unknown>[] })[];
}

/** A copy of the good mapping, changed by `change`: each case breaks one thing. */
const withMapping = (change: (m: MappingShape) => void) => {
  const copy = structuredClone(goodMapping) as unknown as MappingShape;
  change(copy);
  return copy;
};

const cases: Case[] = [
  {
    name: 'order that is not a positive integer',
    files: tree({ 'config/hotfix_mapping.json': withMapping((m) => (m.mappings[0]!.files[0]!.order = 0)) }),
    expect: ['hotfix_mapping.json: mappings[0].files[0].order: expected a positive integer'],
  },
  {
    name: 'order as a string',
    files: tree({ 'config/hotfix_mapping.json': withMapping((m) => (m.mappings[0]!.files[0]!.order = 'first')) }),
    expect: ['hotfix_mapping.json: mappings[0].files[0].order'],
  },
  {
    name: 'duplicate order within a mapping',
    files: tree({
      'config/hotfix_mapping.json': withMapping((m) => m.mappings[0]!.files.push({ filename: 'B.exe', path: 'hotfixes/2019/', order: 1 })),
    }),
    expect: ['hotfix_mapping.json: mappings[0].files[1].order: order 1 is also used by files[0]'],
  },
  {
    name: 'min_build not below target_build',
    files: tree({ 'config/hotfix_mapping.json': withMapping((m) => (m.mappings[0]!.min_build = '15.0.4395.2')) }),
    expect: ['hotfix_mapping.json: mappings[0].min_build: min_build 15.0.4395.2 must be lower than target_build 15.0.4395.2'],
  },
  {
    name: 'min_build compared numerically, not as text',
    files: tree({
      'config/hotfix_mapping.json': withMapping((m) => {
        const e = m.mappings[0]!;
        e.min_build = '15.0.10000.0';
        e.target_build = '15.0.9999.0';
      }),
    }),
    expect: ['mappings[0].min_build: min_build 15.0.10000.0 must be lower than target_build 15.0.9999.0'],
  },
  {
    name: 'a build that is not a build',
    files: tree({ 'config/hotfix_mapping.json': withMapping((m) => (m.mappings[0]!.target_build = 'CU30')) }),
    expect: ['hotfix_mapping.json: mappings[0].target_build: not a SQL Server build: "CU30"'],
  },
  {
    name: 'overlapping ranges for the same family and edition',
    files: tree({
      'config/hotfix_mapping.json': withMapping((m) =>
        m.mappings.push({ version_family: '2019', min_build: '15.0.4300.0', target_build: '15.0.4400.0', files: [{ filename: 'X.exe', order: 1 }] }),
      ),
    }),
    expect: ['hotfix_mapping.json: mappings[1]: range 15.0.4300.0–15.0.4400.0 overlaps mappings[0]'],
  },
  {
    name: 'unknown version family',
    files: tree({ 'config/hotfix_mapping.json': withMapping((m) => (m.mappings[0]!.version_family = '2020')) }),
    expect: ['hotfix_mapping.json: mappings[0].version_family: unknown version family "2020"'],
  },
  {
    name: 'unknown key in a mapping file entry',
    files: tree({ 'config/hotfix_mapping.json': withMapping((m) => (m.mappings[0]!.files[0]!.checksum = 'abc')) }),
    expect: ['hotfix_mapping.json: mappings[0].files[0].checksum: unknown key'],
  },
  {
    name: 'bad sha256',
    files: tree({ 'config/hotfix_mapping.json': withMapping((m) => (m.mappings[0]!.files[0]!.sha256 = 'abc')) }),
    expect: ['hotfix_mapping.json: mappings[0].files[0].sha256: expected 64 hexadecimal characters'],
  },
  {
    name: 'duplicate targets, case-insensitively',
    files: tree({
      'config/sql_targets.json': {
        schema_version: 1,
        targets: [
          { server: 'SQL1', instance: 'MSSQLSERVER', transport: 'simulated' },
          { server: 'sql1', instance: 'mssqlserver', transport: 'simulated' },
        ],
      },
    }),
    expect: ['sql_targets.json: targets[1]: duplicate target sql1\\mssqlserver (also targets[0])'],
  },
  {
    name: 'a target naming an undefined credential',
    files: tree({ 'config/sql_targets.json': { schema_version: 1, targets: [{ server: 'SQL1', credential: 'domain-admin' }] } }),
    expect: ['sql_targets.json: targets[0].credential: names credential "domain-admin", which audit_config.json hotfix.credentials does not define'],
  },
  {
    name: 'a credential that embeds a password',
    files: tree({
      'config/audit_config.json': { ...labAuditConfig(), hotfix: { credentials: { ops: { username: 'CONTOSO\\svc', password: 'hunter2' } } } },
    }),
    expect: ['audit_config.json: hotfix.credentials.ops.password: embeds a password'],
  },
  {
    name: 'unknown key in audit_config',
    files: tree({ 'config/audit_config.json': { ...labAuditConfig(), hotfix: { max_concurrent: 4 } } }),
    expect: ['audit_config.json: hotfix.max_concurrent: unknown key'],
  },
  {
    name: 'max_concurrent_servers of zero',
    files: tree({ 'config/audit_config.json': { ...labAuditConfig(), hotfix: { max_concurrent_servers: 0 } } }),
    expect: ['audit_config.json: hotfix.max_concurrent_servers: expected at least 1'],
  },
  {
    name: 'unknown transport',
    files: tree({ 'config/sql_targets.json': { schema_version: 1, targets: [{ server: 'SQL1', transport: 'telnet' }] } }),
    expect: ['sql_targets.json: targets[0].transport: expected one of "winrm", "ssh", "simulated"'],
  },
  {
    name: 'HOST\\INSTANCE written in server',
    files: tree({ 'config/sql_targets.json': { schema_version: 1, targets: [{ server: 'SQL1\\SALES', transport: 'simulated' }] } }),
    expect: ['sql_targets.json: targets[0].server: "SQL1\\\\SALES" is not a host name: write "server": "SQL1" and "instance": "SALES"'],
  },
  {
    name: 'wrong schema_version',
    files: tree({ 'config/sql_targets.json': { schema_version: 2, targets: [] } }),
    expect: ['sql_targets.json: schema_version: expected 1'],
  },
  {
    name: 'invalid JSON',
    files: tree({ 'config/hotfix_mapping.json': '{ "schema_version": 1,, }' }),
    expect: ['hotfix_mapping.json: not valid JSON', 'line 1'],
  },
  {
    name: 'a missing mapping file',
    files: tree({ 'config/audit_config.json': { ...labAuditConfig(), hotfix: { mapping: 'config/nope.json' } } }),
    expect: ['nope.json: file not found'],
  },
  {
    name: 'a simulation block on a target that is not simulated',
    files: tree({ 'config/sql_targets.json': { schema_version: 1, targets: [{ server: 'SQL1', transport: 'winrm', simulation: { version: '15.0.4298.0' } }] } }),
    expect: ['sql_targets.json: targets[0].simulation: applies only to transport "simulated"'],
  },
  {
    name: 'two targets of one lab host that disagree on host settings',
    files: tree({
      'config/sql_targets.json': {
        schema_version: 1,
        targets: [
          { server: 'SQL1', instance: 'A', transport: 'simulated', simulation: { pending_reboot: true } },
          { server: 'SQL1', instance: 'B', transport: 'simulated', simulation: { pending_reboot: false } },
        ],
      },
    }),
    expect: ['sql_targets.json: targets[1].simulation.pending_reboot: disagrees with targets[0]'],
  },
  {
    name: 'lab instance states outside their lists',
    files: tree({
      'config/sql_targets.json': {
        schema_version: 1,
        targets: [{ server: 'SQL1', transport: 'simulated', simulation: { agent_state: 'paused', engine_state: 'absent' } }],
      },
    }),
    expect: ['sql_targets.json: targets[0].simulation.agent_state', 'sql_targets.json: targets[0].simulation.engine_state'],
  },
  {
    name: 'an unlisted lab instance that a target names, and one listed twice',
    files: tree({
      'config/sql_targets.json': {
        schema_version: 1,
        targets: [
          {
            server: 'SQL1',
            instance: 'A',
            transport: 'simulated',
            simulation: {
              unlisted_instances: [
                { instance: 'a', version: '15.0.4298.0' },
                { instance: 'C', version: '15.0.4298.0' },
                { instance: 'c', version: '15.0.4298.0' },
              ],
            },
          },
        ],
      },
    }),
    expect: [
      'sql_targets.json: targets[0].simulation.unlisted_instances[0].instance: SQL1\\a is a target; list it in one place only',
      'sql_targets.json: targets[0].simulation.unlisted_instances[2].instance: SQL1\\c is listed twice',
    ],
  },
  {
    name: 'an unlisted lab instance without a build',
    files: tree({
      'config/sql_targets.json': {
        schema_version: 1,
        targets: [{ server: 'SQL2', transport: 'simulated', simulation: { unlisted_instances: [{ instance: 'D' }] } }],
      },
    }),
    expect: ['sql_targets.json: targets[0].simulation.unlisted_instances[0].version'],
  },
  {
    name: 'a lab installer behaviour with msi_transaction that is not a boolean',
    files: tree({
      'config/sql_targets.json': {
        schema_version: 1,
        targets: [{ server: 'SQL1', transport: 'simulated', simulation: { installers: { 'CU30.exe': { msi_transaction: 'yes' } } } }],
      },
    }),
    expect: ['sql_targets.json: targets[0].simulation.installers["CU30.exe"].msi_transaction'],
  },
  {
    name: 'several problems in several files, all reported at once',
    files: tree({
      'config/hotfix_mapping.json': withMapping((m) => (m.mappings[0]!.files[0]!.order = -1)),
      'config/sql_targets.json': { schema_version: 1, targets: [{ server: '', instance: 'X' }] },
    }),
    expect: ['mappings[0].files[0].order', 'sql_targets.json: targets[0].server'],
  },
];

describe('malformed configuration', () => {
  it.each(cases)('$name: exit 2, the file and JSON path named, no stack trace, no history written', (c) => {
    const root = writeConfigTree(c.files);
    const result = runCli(['--hotfix-plan', '--offline', '--config', path.join(root, 'config/audit_config.json')]);
    expect(result.code, result.stderr).toBe(2);
    for (const text of c.expect) expect(result.stderr).toContain(text);
    expect(result.stderr).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)/);
    expect(result.stdout).toBe('');
    expect(existsSync(path.join(root, 'output/history.db'))).toBe(false);
  });

  it('has at least fifteen cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });
});

describe('a good configuration', () => {
  it('plans the same whatever the working directory', () => {
    const root = writeConfigTree(tree({}));
    const fromRoot = runCli(['--hotfix-plan', '--offline', '--json', '--config', 'config/audit_config.json'], { cwd: root });
    const fromElsewhere = runCli(['--hotfix-plan', '--offline', '--json', '--config', path.join(root, 'config/audit_config.json')], { cwd: '/' });
    expect(fromRoot.code, fromRoot.stderr).toBe(0);
    // The schedule's clock times are those of each run; everything else must be the same.
    const untimed = (stdout: string) => {
      const plan = JSON.parse(stdout);
      delete plan.schedule.starts_at;
      delete plan.schedule.expected_end;
      return plan;
    };
    expect(untimed(fromElsewhere.stdout)).toEqual(untimed(fromRoot.stdout));
    expect(JSON.parse(fromRoot.stdout).targets[0].steps[0].path).toBe(path.join(root, 'hotfixes/2019/CU30.exe'));
  });

  it('honours root set in audit_config.json, relative to that file', () => {
    const root = writeConfigTree({
      'etc/ada/audit_config.json': { ...labAuditConfig(), root: '../../srv' },
      'srv/config/hotfix_mapping.json': goodMapping,
      'srv/config/sql_targets.json': goodTargets,
      'srv/hotfixes/2019/CU30.exe': 'x',
    });
    const result = runCli(['--hotfix-plan', '--offline', '--json', '--config', path.join(root, 'etc/ada/audit_config.json')]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).targets[0].steps[0].path).toBe(path.join(root, 'srv/hotfixes/2019/CU30.exe'));
    expect(readFileSync(path.join(root, 'srv/hotfixes/2019/CU30.exe'), 'utf8')).toBe('x');
  });
});
