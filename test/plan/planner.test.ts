import { describe, expect, it } from 'vitest';
import { mappingFileSchema } from '../../src/config/schemas.js';
import { buildCommand, buildPlan, type InventoryEntry } from '../../src/plan/planner.js';
import { mapping, type MappingSpec } from '../helpers/configTree.js';

const CU30: MappingSpec = { family: '2019', min: '15.0.4298.0', target: '15.0.4395.2', files: [{ name: 'CU30.exe' }], restart: true, description: 'CU30' };
const CU19: MappingSpec = { family: '2019', min: '15.0.2000.5', target: '15.0.4298.0', files: [{ name: 'CU19.exe' }], description: 'CU19' };
const CU16: MappingSpec = { family: '2022', min: '16.0.4085.0', target: '16.0.4165.4', files: [{ name: 'CU16.exe' }] };

function plan(specs: MappingSpec[], inventory: Partial<InventoryEntry>[], unsupported: { version_family: string; message: string }[] = []) {
  const file = mappingFileSchema.parse(mapping(specs, unsupported));
  return buildPlan({
    mapping: file,
    root: '/srv/ada',
    inventory: inventory.map((i) => ({
      server: 'SQL1',
      instance: 'MSSQLSERVER',
      version: null,
      edition: 'Standard Edition (64-bit)',
      reachable: true,
      transport: 'simulated' as const,
      ...i,
    })),
  });
}

describe('buildPlan: status of each instance', () => {
  it('plans a pending instance with its steps, target and restart', () => {
    const { plan } = plan1([CU30], '15.0.4298.0');
    const t = plan.targets[0]!;
    expect(t).toMatchObject({ status: 'pending', current_build: '15.0.4298.0', version_family: '2019', target_build: '15.0.4395.2', requires_restart: true, message: 'CU30' });
    expect(t.steps).toEqual([
      {
        order: 1,
        installer: 'CU30.exe',
        path: '/srv/ada/hotfixes/2019/CU30.exe',
        required: true,
        command: '"/srv/ada/hotfixes/2019/CU30.exe" /quiet /IAcceptSQLServerLicenseTerms /Action=Patch /AllInstances',
      },
    ]);
    expect(plan.summary).toEqual({ pending: 1, up_to_date: 0, unsupported: 0, no_mapping: 0, invalid_version: 0, unreachable: 0 });
  });

  it('is up to date at or above the highest target build', () => {
    expect(plan1([CU19, CU30], '15.0.4395.2').plan.targets[0]!.status).toBe('up_to_date');
    expect(plan1([CU19, CU30], '15.0.4400.1').plan.targets[0]!.status).toBe('up_to_date');
    expect(plan1([CU19, CU30], '15.0.4395.2').plan.targets[0]!.steps).toEqual([]);
  });

  it('compares numerically: 15.0.999.0 is below 15.0.2000.5, so no mapping covers it', () => {
    const t = plan1([CU19, CU30], '15.0.999.0').plan.targets[0]!;
    expect(t.status).toBe('no_mapping');
    expect(t.message).toContain('below the lowest min_build 15.0.2000.5');
  });

  it('reports a build in a gap between mappings as no_mapping', () => {
    const gap: MappingSpec = { family: '2019', min: '15.0.4300.0', target: '15.0.4395.2', files: [{ name: 'x.exe' }] };
    const early: MappingSpec = { family: '2019', min: '15.0.2000.5', target: '15.0.4200.0', files: [{ name: 'y.exe' }] };
    expect(plan1([early, gap], '15.0.4250.0').plan.targets[0]!.status).toBe('no_mapping');
  });

  it('reports a family without mappings as no_mapping', () => {
    const t = plan1([CU30], '12.0.6444.4').plan.targets[0]!;
    expect(t).toMatchObject({ status: 'no_mapping', version_family: '2014' });
  });

  it("reports an unsupported family with the mapping file's message", () => {
    const t = plan([CU30], [{ version: '10.50.6000.34' }], [{ version_family: '2008R2', message: 'SQL Server 2008 R2 is out of support.' }]).plan.targets[0]!;
    expect(t).toMatchObject({ status: 'unsupported', version_family: '2008R2', message: 'SQL Server 2008 R2 is out of support.', steps: [] });
  });

  it.each([['15.0.x.1'], ['banana'], ['15'], ['']])('calls %j an invalid version without throwing', (version) => {
    const t = plan1([CU30], version).plan.targets[0]!;
    expect(t.status).toBe('invalid_version');
    expect(t.current_build).toBe(version);
  });

  it('calls a build of no known release an invalid version', () => {
    const t = plan1([CU30], '19.0.1.1').plan.targets[0]!;
    expect(t.status).toBe('invalid_version');
    expect(t.message).toContain('no known SQL Server release');
  });

  it('calls an instance with no version at all an invalid version', () => {
    expect(plan([CU30], [{ version: null }]).plan.targets[0]!.status).toBe('invalid_version');
  });

  it('marks unreachable hosts, keeping the recorded build for the operator', () => {
    const t = plan([CU30], [{ version: '15.0.4298.0', reachable: false, unreachableReason: 'WinRM: connection refused' }]).plan.targets[0]!;
    expect(t).toMatchObject({ status: 'unreachable', current_build: '15.0.4298.0', message: 'WinRM: connection refused' });
    expect(plan([CU30], [{ version: '15.0.4298.0', reachable: false }]).plan.summary.unreachable).toBe(1);
  });
});

describe('buildPlan: family names as people write them', () => {
  it('reads "SQL Server 2019", "2008 r2" and "2008R2" as the families they name', () => {
    const spelled: MappingSpec = { ...CU30, family: 'SQL Server 2019' };
    expect(plan1([spelled], '15.0.4298.0').plan.targets[0]!.status).toBe('pending');
    const legacy = plan([CU30], [{ version: '10.50.6000.34' }], [{ version_family: '2008 r2', message: 'out of support' }]);
    expect(legacy.plan.targets[0]).toMatchObject({ status: 'unsupported', version_family: '2008R2' });
  });
});

describe('buildPlan: chaining and editions', () => {
  it('chains mappings when one target_build is the next min_build', () => {
    const t = plan1([CU30, CU19], '15.0.2000.5').plan.targets[0]!;
    expect(t.status).toBe('pending');
    expect(t.target_build).toBe('15.0.4395.2');
    expect(t.steps.map((s) => [s.order, s.installer])).toEqual([
      [1, 'CU19.exe'],
      [2, 'CU30.exe'],
    ]);
    expect(t.message).toBe('CU19 → CU30');
    expect(t.requires_restart).toBe(true);
  });

  it('starts the chain at the hop that covers the current build', () => {
    const t = plan1([CU19, CU30], '15.0.4300.0').plan.targets[0]!;
    expect(t.steps.map((s) => s.installer)).toEqual(['CU30.exe']);
  });

  it('prefers an edition-filtered mapping over an unfiltered one for the same range', () => {
    const enterprise: MappingSpec = { ...CU30, edition: 'Enterprise', files: [{ name: 'CU30-ent.exe' }] };
    const forEnterprise = plan([CU30, enterprise], [{ version: '15.0.4298.0', edition: 'Enterprise Edition: Core-based Licensing (64-bit)' }]);
    expect(forEnterprise.plan.targets[0]!.steps[0]!.installer).toBe('CU30-ent.exe');
    const forStandard = plan([enterprise, CU30], [{ version: '15.0.4298.0', edition: 'Standard Edition (64-bit)' }]);
    expect(forStandard.plan.targets[0]!.steps[0]!.installer).toBe('CU30.exe');
  });

  it('treats a blank edition_filter as none', () => {
    expect(plan([{ ...CU30, edition: '  ' }], [{ version: '15.0.4298.0', edition: 'Standard Edition (64-bit)' }]).plan.targets[0]!.status).toBe('pending');
  });

  it('ignores a filtered mapping whose edition does not match', () => {
    const enterpriseOnly: MappingSpec = { ...CU30, edition: 'Enterprise' };
    expect(plan([enterpriseOnly], [{ version: '15.0.4298.0', edition: 'Standard Edition (64-bit)' }]).plan.targets[0]!.status).toBe('no_mapping');
  });

  it('keeps optional steps optional and orders files by their order field', () => {
    const sp: MappingSpec = {
      family: '2016',
      min: '13.0.6300.0',
      target: '13.0.6441.1',
      files: [
        { name: 'CU17.exe', order: 2, required: false },
        { name: 'SP3.exe', order: 1 },
      ],
    };
    const steps = plan1([sp], '13.0.6300.2').plan.targets[0]!.steps;
    expect(steps.map((s) => [s.order, s.installer, s.required])).toEqual([
      [1, 'SP3.exe', true],
      [2, 'CU17.exe', false],
    ]);
  });
});

describe('buildPlan: one host is one unit', () => {
  it('runs an installer once per host even when several instances need it', () => {
    const result = plan(
      [CU30],
      [
        { instance: 'MSSQLSERVER', version: '15.0.4298.0' },
        { instance: 'SALES', version: '15.0.4300.0' },
      ],
    );
    expect(result.hosts).toHaveLength(1);
    expect(result.hosts[0]!.steps).toHaveLength(1);
    expect(result.hosts[0]!.steps[0]!.targets).toEqual(['SQL1\\MSSQLSERVER', 'SQL1\\SALES']);
    expect(result.plan.targets.every((t) => t.steps.length === 1)).toBe(true);
  });

  it('puts installers of instances of different versions on one host in sequence', () => {
    const result = plan(
      [CU16, CU30, CU19],
      [
        { instance: 'A2022', version: '16.0.4085.0' },
        { instance: 'B2019', version: '15.0.2000.5' },
      ],
    );
    const host = result.hosts[0]!;
    expect(host.steps.map((s) => [s.order, s.installer])).toEqual([
      [1, 'CU19.exe'],
      [2, 'CU30.exe'],
      [3, 'CU16.exe'],
    ]);
  });

  it('groups hosts case-insensitively and keeps other hosts apart', () => {
    const result = plan(
      [CU30],
      [
        { server: 'sql1', instance: 'A', version: '15.0.4298.0' },
        { server: 'SQL1', instance: 'B', version: '15.0.4298.0' },
        { server: 'SQL2', instance: 'A', version: '15.0.4298.0' },
      ],
    );
    expect(result.hosts.map((h) => [h.server, h.steps.length, h.targets.length])).toEqual([
      ['sql1', 1, 2],
      ['SQL2', 1, 1],
    ]);
  });
});

describe('buildCommand', () => {
  it('quotes paths with spaces and keeps UNC paths as they are', () => {
    expect(buildCommand('C:\\Patches\\SQL 2019\\CU30.exe', '/quiet')).toBe('"C:\\Patches\\SQL 2019\\CU30.exe" /quiet');
    expect(buildCommand('\\\\fileserver\\patches\\sql\\CU30.exe', ' /quiet  ')).toBe('"\\\\fileserver\\patches\\sql\\CU30.exe" /quiet');
    expect(buildCommand('/srv/x.exe', '')).toBe('"/srv/x.exe"');
  });

  it('resolves UNC and absolute mapping paths without joining them to the root', () => {
    const file = mappingFileSchema.parse({
      schema_version: 1,
      mappings: [
        { version_family: '2019', min_build: '15.0.4298.0', target_build: '15.0.4395.2', files: [{ filename: 'CU30.exe', path: '\\\\fs01\\patches\\2019\\', order: 1 }] },
        { version_family: '2022', min_build: '16.0.4085.0', target_build: '16.0.4165.4', files: [{ filename: 'CU16.exe', path: 'C:\\AutoDBAudit\\hotfixes\\2022', order: 1 }] },
      ],
    });
    const result = buildPlan({
      mapping: file,
      root: '/srv/ada',
      inventory: [
        { server: 'A', instance: 'MSSQLSERVER', version: '15.0.4298.0', edition: null, reachable: true, transport: 'winrm' },
        { server: 'B', instance: 'MSSQLSERVER', version: '16.0.4085.0', edition: null, reachable: true, transport: 'winrm' },
      ],
    });
    expect(result.plan.targets[0]!.steps[0]!.path).toBe('\\\\fs01\\patches\\2019\\CU30.exe');
    expect(result.plan.targets[1]!.steps[0]!.path).toBe('C:\\AutoDBAudit\\hotfixes\\2022\\CU16.exe');
  });

  it('joins relative paths to a Windows root with backslashes', () => {
    const file = mappingFileSchema.parse(mapping([CU30]));
    const result = buildPlan({
      mapping: file,
      root: 'C:\\AutoDBAudit',
      inventory: [{ server: 'A', instance: 'MSSQLSERVER', version: '15.0.4298.0', edition: null, reachable: true, transport: 'winrm' }],
    });
    expect(result.plan.targets[0]!.steps[0]!.path).toBe('C:\\AutoDBAudit\\hotfixes\\2019\\CU30.exe');
  });
});

function plan1(specs: MappingSpec[], version: string) {
  return plan(specs, [{ version }]);
}
