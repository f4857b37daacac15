import { describe, expect, it } from 'vitest';
import { checkMapping, kbOfFileName } from '../../src/catalog/mappingChecks.js';
import { baseUpdateOf, suggestMapping } from '../../src/catalog/suggestMapping.js';
import { mappingFileSchema } from '../../src/config/schemas.js';
import { buildPlan } from '../../src/plan/planner.js';
import { mapping as mappingOf, type MappingSpec } from '../helpers/configTree.js';
import { shippedCatalog } from './shippedCatalog.js';

const catalog = shippedCatalog();
const FILE = 'hotfix_mapping.json';

function check(specs: MappingSpec[]) {
  return checkMapping(mappingFileSchema.parse(mappingOf(specs)), catalog, FILE).map((f) => `${f.kind} ${f.path}: ${f.message}`);
}

describe('mapping checks against the catalog', () => {
  it('finds nothing in a mapping that reaches the newest update of its release with matching installers', () => {
    expect(
      check([
        { family: '2019', min: '15.0.2000.5', target: '15.0.4430.1', files: [{ name: 'SQLServer2019-KB5054833-x64.exe' }] },
        { family: '2019', min: '15.0.4430.1', target: '15.0.4480.1', files: [{ name: 'SQLServer2019-KB5102335-x64.exe' }] },
      ]),
    ).toEqual([]);
  });

  it('names a retired target, an unknown target and an installer whose KB is not the target build', () => {
    const found = check([
      { family: '2025', min: '17.0.1000.7', target: '17.0.4005.7', files: [{ name: 'SQLServer2025-KB5074901-x64.exe' }] },
      { family: '2022', min: '16.0.4003.1', target: '16.0.4266.1', files: [{ name: 'SQLServer2022-KB5093420-x64.exe' }] },
      { family: '2019', min: '15.0.2000.5', target: '15.0.4395.2', files: [{ name: 'SQLServer2019-KB5046859-x64.exe' }] },
    ]);
    expect(found).toContain(
      'retired_target mappings[0].target_build: 17.0.4005.7 is SQL Server 2025 RTM GDR (17.0.4005, KB5074901), an update Microsoft retired (pulled): choose another target',
    );
    expect(found.find((f) => f.startsWith('unknown_target mappings[1].target_build: 16.0.4266.1 is not a build the catalog knows for SQL Server 2022'))).toBeDefined();
    expect(found).toContain(
      'installer_kb mappings[2].files[0]: SQLServer2019-KB5046859-x64.exe carries KB5046859, which is SQL Server 2019 RTM GDR (15.0.2130, KB5046859, released 2024-11-12); target_build 15.0.4395.2 is SQL Server 2019 CU28 + GDR (15.0.4395, KB5046060, released 2024-10-08)',
    );
  });

  it('accepts an earlier installer of an entry that is the base of its last one, and not a last installer for another build', () => {
    const found = check([
      {
        family: '2016',
        min: '13.0.5026.0',
        target: '13.0.6441.1',
        files: [{ name: 'SQLServer2016-SP3-KB5003279-x64.exe' }, { name: 'SQLServer2016-KB5040946-x64.exe' }],
      },
    ]);
    expect(found.filter((f) => f.startsWith('installer_kb'))).toEqual([]);
    const wrongLast = check([
      { family: '2016', min: '13.0.5026.0', target: '13.0.6441.1', files: [{ name: 'SQLServer2016-KB5040946-x64.exe' }, { name: 'SQLServer2016-SP3-KB5003279-x64.exe' }] },
    ]);
    expect(wrongLast.filter((f) => f.startsWith('installer_kb mappings[0].files[1]'))).toHaveLength(1);
  });

  it('says when the catalog knows a newer CU than the highest target, with its KB and date, on the entry holding that target', () => {
    const found = check([
      { family: '2019', min: '15.0.2000.5', target: '15.0.4298.1', files: [{ name: 'SQLServer2019-KB5023049-x64.exe' }] },
      { family: '2019', min: '15.0.4298.1', target: '15.0.4385.2', files: [{ name: 'SQLServer2019-KB5039747-x64.exe' }] },
    ]);
    expect(found).toEqual([
      'newer_cu mappings[1]: SQL Server 2019: the catalog knows SQL Server 2019 CU32 (15.0.4430, KB5054833, released 2025-02-27), newer than the highest target_build 15.0.4385.2 (SQL Server 2019 CU28)',
    ]);
  });

  it('says when a newer security update is known for the level of the highest target, never a GDR below a CU', () => {
    // 2016 SP3: the GDR branch (13.0.64xx) and the Azure Connect branch (13.0.70xx) ship the same day; the nearer one is named.
    expect(check([{ family: '2016', min: '13.0.6300.2', target: '13.0.6441.1', files: [{ name: 'SQLServer2016-KB5040946-x64.exe' }] }])).toEqual([
      'newer_update mappings[0]: SQL Server 2016: the catalog knows SQL Server 2016 SP3 GDR (13.0.6500, KB5102340, released 2026-07-14), a newer update for the same level as the highest target_build 13.0.6441.1 (SQL Server 2016 SP3 GDR)',
    ]);
    // The RTM GDR of 2026 is not "newer" than CU32 of 2025: it is 32 CUs behind.
    const cu32 = check([{ family: '2019', min: '15.0.2000.5', target: '15.0.4430.1', files: [{ name: 'SQLServer2019-KB5054833-x64.exe' }] }]);
    expect(cu32).toHaveLength(1);
    expect(cu32[0]).toContain('SQL Server 2019 CU32 + GDR (15.0.4480, KB5102335, released 2026-07-14)');
  });

  it('names the builds no mapping covers between the lowest min_build and the highest target_build, and the entries around them', () => {
    const found = check([
      { family: '2022', min: '16.0.4003.1', target: '16.0.4165.4', files: [{ name: 'SQLServer2022-KB5048033-x64.exe' }] },
      { family: '2022', min: '16.0.4185.1', target: '16.0.4265.1', files: [{ name: 'SQLServer2022-KB5093420-x64.exe' }] },
    ]);
    expect(found).toEqual([
      'coverage_gap mappings[0]: no mapping covers SQL Server 2022 builds 16.0.4165–16.0.4175 (2 known builds: SQL Server 2022 CU16, SQL Server 2022 CU17) after mappings[0] (target_build 16.0.4165.4), before mappings[1] (min_build 16.0.4185.1): an instance there gets no_mapping',
    ]);
  });

  it('checks coverage per edition filter: an edition is covered by its own entries and the unfiltered ones', () => {
    const base: MappingSpec = { family: '2022', min: '16.0.4003.1', target: '16.0.4165.4', files: [{ name: 'SQLServer2022-KB5048033-x64.exe' }] };
    const joined = check([base, { family: '2022', edition: 'Enterprise', min: '16.0.4165.4', target: '16.0.4265.1', files: [{ name: 'SQLServer2022-KB5093420-x64.exe' }] }]);
    expect(joined.filter((f) => f.startsWith('coverage_gap'))).toEqual([]);
    const apart = check([base, { family: '2022', edition: 'Enterprise', min: '16.0.4185.1', target: '16.0.4265.1', files: [{ name: 'SQLServer2022-KB5093420-x64.exe' }] }]);
    expect(apart.filter((f) => f.startsWith('coverage_gap'))).toEqual([
      'coverage_gap mappings[0]: no mapping covers SQL Server 2022 builds 16.0.4165–16.0.4175 (2 known builds: SQL Server 2022 CU16, SQL Server 2022 CU17) after mappings[0] (target_build 16.0.4165.4), before mappings[1] (min_build 16.0.4185.1) for edition enterprise: an instance there gets no_mapping',
    ]);
  });

  it('reads the KB of an installer file name', () => {
    expect(kbOfFileName('SQLServer2019-KB5046859-x64.exe')).toBe('5046859');
    expect(kbOfFileName('sqlserver2016-kb5003279-x64.EXE')).toBe('5003279');
    expect(kbOfFileName('SQLServer2019-CU30.exe')).toBeNull();
    expect(kbOfFileName('NOTKB5046859.exe')).toBeNull();
  });
});

describe('suggested mappings', () => {
  it('chains a security update on a CU through that CU when instances are below it, and the planner follows the chain', () => {
    const installers = [
      { fileName: 'SQLServer2019-KB5039747-x64.exe', folder: 'hotfixes/2019/' },
      { fileName: 'SQLServer2019-KB5042749-x64.exe', folder: 'hotfixes/2019/' },
    ];
    const suggestion = suggestMapping(installers, catalog, ['15.0.4298.1', '15.0.4385.2', '16.0.4085.0']);
    expect(suggestion.mappings.map((m) => [m.version_family, m.min_build, m.target_build, m.files[0]!.filename, m.description])).toEqual([
      ['2019', '15.0.4298.1', '15.0.4385.0', 'SQLServer2019-KB5039747-x64.exe', 'SQL Server 2019 CU28 (KB5039747)'],
      ['2019', '15.0.4385.0', '15.0.4390.0', 'SQLServer2019-KB5042749-x64.exe', 'SQL Server 2019 CU28 + GDR (KB5042749)'],
    ]);
    const file = mappingFileSchema.parse({ schema_version: 1, mappings: suggestion.mappings });
    const plan = buildPlan({
      mapping: file,
      root: '/srv/autodbaudit',
      inventory: [{ server: 'A', instance: 'MSSQLSERVER', version: '15.0.4298.1', edition: 'Standard Edition (64-bit)', reachable: true, transport: 'simulated' }],
    }).plan;
    expect(plan.targets[0]!.steps.map((s) => s.installer)).toEqual(['SQLServer2019-KB5039747-x64.exe', 'SQLServer2019-KB5042749-x64.exe']);
    expect(checkMapping(file, catalog, FILE).filter((f) => f.kind === 'coverage_gap' || f.kind === 'installer_kb')).toEqual([]);
  });

  it('chains a CU of a later service pack through that service pack, and says when the base installer is missing', () => {
    const sp2 = { fileName: 'SQLServer2016-SP2-KB4052908-x64.exe', folder: 'hotfixes/2016/' };
    const cu17 = { fileName: 'SQLServer2016-KB5001092-x64.exe', folder: 'hotfixes/2016/' };
    const chained = suggestMapping([sp2, cu17], catalog, ['13.0.4001.0']);
    expect(chained.mappings.map((m) => [m.min_build, m.target_build, m.files[0]!.filename])).toEqual([
      ['13.0.4001.0', '13.0.5026.0', sp2.fileName],
      ['13.0.5026.0', '13.0.5888.0', cu17.fileName],
    ]);
    const missing = suggestMapping([cu17], catalog, ['13.0.4001.0']);
    expect(missing.mappings.map((m) => [m.min_build, m.target_build])).toEqual([['13.0.5026.0', '13.0.5888.0']]);
    expect(missing.notes).toEqual([
      'SQL Server 2016 SP2 CU17 (SQLServer2016-KB5001092-x64.exe) needs SQL Server 2016 SP2 (KB4052908) first; no installer for it was found, so instances below 13.0.5026 (from 13.0.4001.0) stay without a mapping until it is added',
    ]);
  });

  it('needs no base for a CU on RTM or a service pack, skips unknown and retired installers, and suggests nothing for a fleet already there', () => {
    const cu = catalog.lookup('15.0.4430')!;
    expect(baseUpdateOf(cu, catalog)).toBeNull();
    expect(baseUpdateOf(catalog.lookup('13.0.6300')!, catalog)).toBeNull();
    expect(baseUpdateOf(catalog.lookup('13.0.6441')!, catalog)?.name).toBe('SQL Server 2016 SP3');
    const result = suggestMapping(
      [
        { fileName: 'SQLServer2025-KB5066990-x64.exe', folder: 'hotfixes/2025/' },
        { fileName: 'SQLServer2025-KB5074901-x64.exe', folder: 'hotfixes/2025/' },
        { fileName: 'readme.txt', folder: 'hotfixes/' },
        { fileName: 'SQLServer2019-KB5054833-x64.exe', folder: 'hotfixes/2019/' },
      ],
      catalog,
      ['15.0.4430.1'],
    );
    expect(result.mappings).toEqual([]);
    expect(result.notes).toEqual([
      'hotfixes/2025/SQLServer2025-KB5066990-x64.exe: KB5066990 is not in the build catalog (last updated 2026-07-16); skipped',
      'hotfixes/2025/SQLServer2025-KB5074901-x64.exe: KB5074901 is SQL Server 2025 RTM GDR (17.0.4005), an update Microsoft retired; skipped',
      'hotfixes/readme.txt: no KB number in the file name; skipped',
      'SQL Server 2019: no recorded instance is below SQL Server 2019 CU32 (15.0.4430); nothing to suggest',
    ]);
  });
});
