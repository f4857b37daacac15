import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mappingFileSchema } from '../../src/config/schemas.js';
import { labInstaller, type MappingSpec } from '../helpers/configTree.js';
import { labFleet } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';

/* The build catalog through the built CLI: plan facts, --check-mapping, --update-catalog, --suggest-mapping. */

const REFERENCE = JSON.parse(readFileSync(new URL('../../scripts/catalog/dbatools-buildref-index.json', import.meta.url), 'utf8')) as {
  LastUpdated: string;
  Data: Record<string, unknown>[];
};

/** The reference with a CU33 for 2019 that Microsoft has not shipped, dated after the shipped catalog. */
function newerReference(lastUpdated = '2026-12-01T00:00:00'): Record<string, unknown> {
  const data = [...REFERENCE.Data];
  const last2019 = data.findIndex((e) => e.Version === '15.0.4480');
  data.splice(last2019 + 1, 0, { CU: 'CU33', Version: '15.0.4490', KBList: '5999999', ReleaseDate: '2026-11-20' });
  return { LastUpdated: lastUpdated, Data: data };
}

const CLEAN_2019: MappingSpec[] = [
  { family: '2019', min: '15.0.2000.5', target: '15.0.4430.1', files: [{ name: 'SQLServer2019-KB5054833-x64.exe' }] },
  { family: '2019', min: '15.0.4430.1', target: '15.0.4480.1', files: [{ name: 'SQLServer2019-KB5102335-x64.exe' }] },
];
const CLEAN_FILES = {
  'hotfixes/2019/SQLServer2019-KB5054833-x64.exe': labInstaller('2019', '15.0.4430.1'),
  'hotfixes/2019/SQLServer2019-KB5102335-x64.exe': labInstaller('2019', '15.0.4480.1'),
};

describe('--hotfix-plan shows where each instance stands', () => {
  it('--json carries the facts of the current and target builds under catalog, and unknown builds as unknown', () => {
    const fleet = labFleet([
      { server: 'A', version: '15.0.4298.1' },
      { server: 'B', version: '15.0.4299.0' },
      { server: 'C', version: '15.0.x.1' },
    ]);
    const result = runCli(['--hotfix-plan', '--offline', '--json', '--config', fleet.config]);
    expect(result.code, result.stderr).toBe(0);
    const [a, b, c] = JSON.parse(result.stdout).targets;
    expect(a.catalog).toEqual({
      current: {
        build: '15.0.4298',
        known: true,
        release: 'SQL Server 2019',
        name: 'SQL Server 2019 CU19',
        level: 'RTM',
        cu: 19,
        kb: 'KB5023049',
        release_date: '2023-02-16',
        supported_until: '2030-01-08',
        support_ended: false,
        retired: false,
        cus_behind: 13,
        newest_cu: { name: 'SQL Server 2019 CU32', build: '15.0.4430', kb: 'KB5054833', release_date: '2025-02-27' },
        newer_level: null,
      },
      target: expect.objectContaining({ build: '15.0.4395', known: true, name: 'SQL Server 2019 CU28 + GDR', kb: 'KB5046060', cus_behind: 4 }),
    });
    expect(b.status).toBe('pending');
    expect(b.catalog.current).toMatchObject({ build: '15.0.4299', known: false, release: 'SQL Server 2019', name: null, kb: null, cus_behind: null });
    expect(c.status).toBe('invalid_version');
    expect(c.catalog).toEqual({ current: null, target: null });
  });

  it('prints the facts in the text plan, and the mapping findings as warnings naming file and entry', () => {
    const fleet = labFleet([{ server: 'A', version: '15.0.4298.1' }]);
    const result = runCli(['--hotfix-plan', '--offline', '--config', fleet.config], { cwd: fleet.root });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      '  build:  SQL Server 2019 CU19, KB5023049, released 2023-02-16, supported until 2030-01-08, 13 CUs behind CU32 (KB5054833)',
    );
    expect(result.stdout.split('\n')[0]).toMatch(/; build facts: dbatools SQL Server build reference of 2026-07-16$/);
    expect(result.stdout).toContain('  target: SQL Server 2019 CU28 + GDR, KB5046060, released 2024-10-08, supported until 2030-01-08, 4 CUs behind CU32 (KB5054833)');
    // The lab mapping's 2016 target is a GDR; its 2022 target has a newer CU.
    expect(result.stderr).toMatch(/warning: config\/hotfix_mapping\.json: mappings\[2\]: SQL Server 2022: the catalog knows SQL Server 2022 CU26 \(16\.0\.4265, KB5093420, released 2026-07-16\)/);
    expect(result.stderr).toContain('warning: config/hotfix_mapping.json: mappings[1]: SQL Server 2019: the catalog knows SQL Server 2019 CU32');
  });
});

describe('--check-mapping', () => {
  it('exits 1 with every finding named by file and JSON path, and as JSON with --json', () => {
    const fleet = labFleet([{ server: 'A' }], {
      mappings: [
        { family: '2025', min: '17.0.1000.7', target: '17.0.4005.7', files: [{ name: 'SQLServer2025-KB5066990-x64.exe' }] },
        ...CLEAN_2019,
      ],
    });
    const text = runCli(['--check-mapping', '--config', fleet.config], { cwd: fleet.root });
    expect(text.code, text.stderr).toBe(1);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'config/hotfix_mapping.json: mappings[0].target_build: 17.0.4005.7 is SQL Server 2025 RTM GDR (17.0.4005, KB5074901), an update Microsoft retired (pulled): choose another target',
    );
    expect(lines).toContain(
      'config/hotfix_mapping.json: mappings[0].files[0]: SQLServer2025-KB5066990-x64.exe carries KB5066990, which the catalog does not know; target_build 17.0.4005.7 is SQL Server 2025 RTM GDR (17.0.4005, KB5074901)',
    );
    expect(lines.at(-1)).toBe('3 findings in config/hotfix_mapping.json against the build catalog of 2026-07-16 (shipped)');
    const json = runCli(['--check-mapping', '--json', '--config', fleet.config], { cwd: fleet.root });
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.catalog).toEqual({ last_updated: '2026-07-16T00:00:00', origin: 'shipped' });
    expect(parsed.findings.map((f: { kind: string; path: string }) => `${f.kind} ${f.path}`)).toEqual([
      'retired_target mappings[0].target_build',
      'installer_kb mappings[0].files[0]',
      'newer_cu mappings[0]',
    ]);
  });

  it('exits 0 for a mapping with nothing to say, and 2 for an invalid mapping file', () => {
    const clean = labFleet([{ server: 'A' }], { mappings: CLEAN_2019, extraFiles: CLEAN_FILES });
    const ok = runCli(['--check-mapping', '--config', clean.config], { cwd: clean.root });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toBe('config/hotfix_mapping.json: no findings against the build catalog of 2026-07-16 (shipped)\n');
    writeFileSync(path.join(clean.root, 'config/hotfix_mapping.json'), '{"schema_version": 1, "mappings": [ { "version_family": "2019" } ]}');
    const bad = runCli(['--check-mapping', '--config', clean.config], { cwd: clean.root });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('hotfix_mapping.json: mappings[0].min_build');
  });
});

describe('--update-catalog FILE', () => {
  it('replaces the catalog from a newer dbatools reference, stores it under the output folder, and plans use it', () => {
    const fleet = labFleet([{ server: 'A', version: '15.0.4490.3' }], { mappings: CLEAN_2019 });
    const before = JSON.parse(runCli(['--hotfix-plan', '--offline', '--json', '--config', fleet.config]).stdout).targets[0];
    expect(before.catalog.current).toMatchObject({ known: false, name: null });
    const file = path.join(fleet.root, 'dbatools-buildref-index.json');
    writeFileSync(file, JSON.stringify(newerReference(), null, 4));
    const update = runCli(['--update-catalog', file, '--config', fleet.config]);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toContain('Build catalog updated: 1154 builds, last updated 2026-12-01T00:00:00 (was 2026-07-16T00:00:00)');
    const stored = path.join(fleet.root, 'output/catalog/build-catalog.json');
    const storedFile = JSON.parse(readFileSync(stored, 'utf8'));
    expect(storedFile).toMatchObject({ last_updated: '2026-12-01T00:00:00', source: { license: 'MIT', imported_from: 'dbatools-buildref-index.json' } });
    expect(storedFile.license_notice).toContain('Copyright (c) 2018 Chrissy LeMaire');
    const after = runCli(['--hotfix-plan', '--offline', '--json', '--config', fleet.config]);
    expect(JSON.parse(after.stdout).targets[0].catalog.current).toMatchObject({ known: true, name: 'SQL Server 2019 CU33', kb: 'KB5999999', cus_behind: 0 });
    // The shipped catalog is older: the stored one stays in use, and the mapping is now a CU behind.
    expect(after.stderr).toContain('the catalog knows SQL Server 2019 CU33 (15.0.4490, KB5999999, released 2026-11-20)');
    const text = runCli(['--hotfix-plan', '--offline', '--config', fleet.config], { cwd: fleet.root });
    expect(text.stdout.split('\n')[0]).toMatch(/; build facts: dbatools SQL Server build reference of 2026-12-01 \(updated, output\/catalog\/build-catalog\.json\)$/);
    const check = JSON.parse(runCli(['--check-mapping', '--json', '--config', fleet.config]).stdout);
    expect(check.catalog.last_updated).toBe('2026-12-01T00:00:00');
  });

  it('leaves the catalog as it is when the file is not newer (exit 0, says so)', () => {
    const fleet = labFleet([{ server: 'A' }]);
    const file = path.join(fleet.root, 'same.json');
    writeFileSync(file, JSON.stringify(REFERENCE));
    const result = runCli(['--update-catalog', file, '--json', '--config', fleet.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ updated: false, previous: '2026-07-16T00:00:00', offered: '2026-07-16T00:00:00', builds: 1153, path: null });
    expect(existsSync(path.join(fleet.root, 'output/catalog/build-catalog.json'))).toBe(false);
  });

  it.each([
    ['not JSON', '{"LastUpdated": "2026-12-01" "Data": []}', /bad\.json: not valid JSON: .* at line 1, column \d+/],
    ['no LastUpdated', JSON.stringify({ Data: REFERENCE.Data }), /bad\.json: LastUpdated: required/],
    ['a bad build', JSON.stringify({ ...newerReference(), Data: [{ Version: '15.0.1000', Name: '2019' }, { Version: '15.0.x' }] }), /bad\.json: Data\[1\]\.Version: expected a build such as 15\.0\.4385/],
    ['a bad KB', JSON.stringify({ LastUpdated: '2026-12-01', Data: [{ Version: '15.0.1000', Name: '2019', KBList: ['KB12345'] }] }), /bad\.json: Data\[0\]\.KBList/],
    ['a bad CU', JSON.stringify({ LastUpdated: '2026-12-01', Data: [{ Version: '15.0.1000', Name: '2019', CU: 'Cumulative 3' }] }), /bad\.json: Data\[0\]\.CU: expected CU followed by a number/],
    ['builds out of order', JSON.stringify({ LastUpdated: '2026-12-01', Data: [{ Version: '15.0.4000', Name: '2019' }, { Version: '15.0.3000' }] }), /bad\.json: Data\[1\]\.Version: build 15\.0\.3000 is not above Data\[0\]/],
    ['a release without a name', JSON.stringify({ LastUpdated: '2026-12-01', Data: [{ Version: '18.0.100' }] }), /bad\.json: Data\[0\]\.Name: build 18\.0\.100 comes before any entry naming release 18\.0/],
    ['an empty list', JSON.stringify({ LastUpdated: '2026-12-01', Data: [] }), /bad\.json: Data: expected at least one build/],
  ])('refuses a file with %s: exit 2 naming the file and field, nothing stored', (_what, content, message) => {
    const fleet = labFleet([{ server: 'A' }]);
    writeFileSync(path.join(fleet.root, 'bad.json'), content);
    const result = runCli(['--update-catalog', 'bad.json', '--config', fleet.config], { cwd: fleet.root });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(path.join(fleet.root, 'output/catalog'))).toBe(false);
  });

  it('refuses a file that does not exist with exit 2', () => {
    const fleet = labFleet([{ server: 'A' }]);
    const result = runCli(['--update-catalog', 'missing.json', '--config', fleet.config], { cwd: fleet.root });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('missing.json: file not found');
  });

  it('falls back to the shipped catalog with a warning when the stored one is damaged', () => {
    const fleet = labFleet([{ server: 'A', version: '15.0.4298.1' }]);
    const file = path.join(fleet.root, 'newer.json');
    writeFileSync(file, JSON.stringify(newerReference()));
    expect(runCli(['--update-catalog', file, '--config', fleet.config]).code).toBe(0);
    writeFileSync(path.join(fleet.root, 'output/catalog/build-catalog.json'), '{"format": "autodbaudit-build-catalog"');
    const plan = runCli(['--hotfix-plan', '--offline', '--json', '--config', fleet.config], { cwd: fleet.root });
    expect(plan.code).toBe(0);
    expect(plan.stderr).toMatch(/warning: output\/catalog\/build-catalog\.json: not valid JSON: .*; using the shipped build catalog/);
    expect(JSON.parse(plan.stdout).targets[0].catalog.current.name).toBe('SQL Server 2019 CU19');
  });
});

describe('--suggest-mapping', () => {
  it('prints mapping entries for the installers under hotfixes/, chained through a base update, and writes nothing', () => {
    const fleet = labFleet(
      [
        { server: 'A', version: '15.0.4298.1' },
        { server: 'B', version: '15.0.4385.2' },
        { server: 'C', version: '16.0.4085.0' },
      ],
      {
        mappings: CLEAN_2019,
        extraFiles: {
          'hotfixes/2019/SQLServer2019-KB5039747-x64.exe': labInstaller('2019', '15.0.4385.2'),
          'hotfixes/2019/GDR/SQLServer2019-KB5042749-x64.exe': labInstaller('2019', '15.0.4390.2'),
          'hotfixes/2022/SQLServer2022-KB5093420-x64.exe': labInstaller('2022', '16.0.4265.1'),
        },
      },
    );
    const mappingBefore = readFileSync(path.join(fleet.root, 'config/hotfix_mapping.json'), 'utf8');
    const result = runCli(['--suggest-mapping', '--config', fleet.config]);
    expect(result.code, result.stderr).toBe(0);
    const suggested = mappingFileSchema.parse(JSON.parse(result.stdout));
    expect(suggested.mappings.map((m) => [m.version_family, m.min_build, m.target_build, `${m.files[0]!.path}${m.files[0]!.filename}`])).toEqual([
      ['2022', '16.0.4085.0', '16.0.4265.0', 'hotfixes/2022/SQLServer2022-KB5093420-x64.exe'],
      // The newest 2019 installer is a security update on CU28: instances below CU28 get CU28 first.
      ['2019', '15.0.4298.1', '15.0.4385.0', 'hotfixes/2019/SQLServer2019-KB5039747-x64.exe'],
      ['2019', '15.0.4385.0', '15.0.4390.0', 'hotfixes/2019/GDR/SQLServer2019-KB5042749-x64.exe'],
    ]);
    expect(result.stderr).toContain('note: hotfixes/2019/CU19.exe: no KB number in the file name; skipped');
    expect(readFileSync(path.join(fleet.root, 'config/hotfix_mapping.json'), 'utf8')).toBe(mappingBefore);
    expect(existsSync(path.join(fleet.root, 'output'))).toBe(false);
  });
});

describe.skipIf(process.platform === 'win32')('--suggest-mapping with odd entries under hotfixes/', () => {
  it('passes over links to nothing, link loops and names the targets refuse, with a note each, and suggests only names that load', () => {
    const longName = `SQLServer2019-${'x'.repeat(220)}-KB5039747-x64.exe`;
    const fleet = labFleet([{ server: 'A', version: '15.0.4298.1' }], {
      mappings: CLEAN_2019,
      extraFiles: {
        'hotfixes/2019/.hidden-KB5046860.exe': labInstaller('2019', '15.0.4395.2'),
        [`hotfixes/2019/${longName}`]: labInstaller('2019', '15.0.4385.2'),
        'hotfixes/2019/KB99999999999999999999.exe': labInstaller('2019', '15.0.4385.2'),
        ...CLEAN_FILES,
      },
    });
    const hotfixes = path.join(fleet.root, 'hotfixes');
    symlinkSync('nowhere.exe', path.join(hotfixes, '2019/dangling-KB5039747.exe'));
    symlinkSync('loop', path.join(hotfixes, 'loop'));
    symlinkSync('..', path.join(hotfixes, '2019/up'));
    try {
      const result = runCli(['--suggest-mapping', '--config', fleet.config]);
      expect(result.code, result.stderr).toBe(0);
      const notes = result.stderr.split('\n').filter((l) => l.startsWith('note: '));
      expect(notes).toEqual(
        expect.arrayContaining([
          'note: hotfixes/2019/dangling-KB5039747.exe: a link to nothing (its target does not exist); skipped',
          'note: hotfixes/loop: a link loop (the link leads back to itself); skipped',
          'note: hotfixes/2019/up/: a link to a folder already searched; skipped',
          expect.stringMatching(/^note: hotfixes\/2019\/\.hidden-KB5046860\.exe: "\.hidden-KB5046860\.exe" is not a plain file name the targets accept: .*; skipped$/),
          expect.stringMatching(new RegExp(`^note: hotfixes/2019/${longName}: .* is not a plain file name the targets accept: .*; skipped$`)),
          'note: hotfixes/2019/KB99999999999999999999.exe: KB99999999999999999999 is not a Microsoft KB number (KB followed by 5 to 8 digits); skipped',
        ]),
      );
      // Every suggested file is one the loader takes: the suggestion, written as the mapping, plans.
      writeFileSync(path.join(fleet.root, 'config/hotfix_mapping.json'), result.stdout);
      const plan = runCli(['--hotfix-plan', '--offline', '--json', '--config', fleet.config]);
      expect(plan.code, plan.stderr).toBe(0);
      expect(JSON.parse(plan.stdout).targets[0].steps.map((s: { installer: string }) => s.installer).at(-1)).toBe('SQLServer2019-KB5102335-x64.exe');
    } finally {
      rmSync(fleet.root, { recursive: true, force: true });
    }
  });
});
