import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { LAB_MAPPINGS, labExecutions, labFleet, readHistory, readLabWorld } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';

/**
 * Instances no target names (lab key `unlisted_instances`). With /AllInstances setup patches every
 * instance of its version on the host: the tool finds them at pre-flight, checks them, verifies them
 * afterwards and records them as patched alongside. With /InstanceName= setup patches the named
 * instance only, and the others are left alone and unrecorded. Through the built CLI on the lab.
 */

interface TargetRow {
  server: string;
  instance: string;
  status: string;
  pre_build: string | null;
  post_build: string | null;
  target_build: string | null;
  patched_alongside: number;
}

// 2019 with /AllInstances (the lab's default parameters); 2022 with /InstanceName=MSSQLSERVER.
const MAPPINGS = LAB_MAPPINGS.map((m) =>
  m.family === '2022' ? { ...m, files: m.files.map((f) => ({ ...f, parameters: '/quiet /IAcceptSQLServerLicenseTerms /Action=Patch /InstanceName=MSSQLSERVER' })) } : m,
);

const labVersion = (root: string, server: string, instance: string) =>
  readLabWorld<{ version: string }>(root, 'SELECT version FROM lab_instances WHERE server = ? AND instance = ?', server, instance)[0]?.version;

describe('instances no target names', () => {
  const fleet = labFleet(
    [
      {
        server: 'WIDE',
        simulation: {
          unlisted_instances: [
            { instance: 'REPORTS', version: '15.0.4298.1', edition: 'Express Edition (64-bit)', agent_state: 'absent' },
            { instance: 'CURRENT', version: '15.0.4395.2' },
            { instance: 'OTHER2022', version: '16.0.4085.0' },
          ],
        },
      },
      { server: 'NAMED', version: '16.0.4085.0', simulation: { unlisted_instances: [{ instance: 'SIDE', version: '16.0.4085.0' }] } },
    ],
    { mappings: MAPPINGS },
  );
  const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
  const targets = readHistory<TargetRow>(fleet.root, 'SELECT * FROM hotfix_targets ORDER BY server, instance');

  it('with /AllInstances: an instance of the same version below the target is recorded, checked, patched and verified as patched alongside', () => {
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(targets.map((t) => [t.server, t.instance, t.status, t.pre_build, t.post_build, t.target_build, t.patched_alongside])).toEqual([
      ['NAMED', 'MSSQLSERVER', 'success', '16.0.4085.0', '16.0.4165.4', '16.0.4165.4', 0],
      ['WIDE', 'MSSQLSERVER', 'success', '15.0.4298.1', '15.0.4395.2', '15.0.4395.2', 0],
      ['WIDE', 'REPORTS', 'success', '15.0.4298.1', '15.0.4395.2', '15.0.4395.2', 1],
    ]);
    // One execution served both: the alongside instance has a step in it, with its exit code.
    const steps = readHistory<{ instance: string; execution_id: string; status: string; exit_code: number }>(
      fleet.root,
      "SELECT t.instance, s.execution_id, s.status, s.exit_code FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id WHERE t.server = 'WIDE' ORDER BY t.instance",
    );
    expect(steps).toHaveLength(2);
    expect(steps[0]!.execution_id).toBe(steps[1]!.execution_id);
    expect(steps.map((s) => [s.instance, s.status, s.exit_code])).toEqual([
      ['MSSQLSERVER', 'success', 0],
      ['REPORTS', 'success', 0],
    ]);
    expect(labExecutions(fleet.root).filter((e) => e.server === 'WIDE')).toHaveLength(1);
  });

  it('goes through pre-flight like the planned instances: found before pre-flight passed, its services checked', () => {
    const events = readHistory<{ kind: string; message: string }>(fleet.root, "SELECT kind, message FROM hotfix_events WHERE server = 'WIDE' ORDER BY id");
    const found = events.findIndex((e) => e.kind === 'patched_alongside');
    const passed = events.findIndex((e) => e.kind === 'preflight_passed');
    expect(found).toBeGreaterThanOrEqual(0);
    expect(found).toBeLessThan(passed);
    expect(events[found]!.message).toBe(
      'WIDE\\REPORTS: no target names it, but setup runs with /AllInstances and will patch it too (build 15.0.4298.1, family 2019): checked by pre-flight and verified afterwards as patched alongside',
    );
    expect(events.map((e) => e.message)).toContain('WIDE: SQL Server Agent SQLAgent$REPORTS is not installed (Express has no Agent); patching does not need it');
    expect(events.map((e) => e.message)).toContain('WIDE\\REPORTS (patched alongside): success, build 15.0.4395.2 (target 15.0.4395.2)');
  });

  it('leaves out what setup does not touch: another version, an instance already at the target', () => {
    expect(targets.some((t) => t.instance === 'CURRENT' || t.instance === 'OTHER2022')).toBe(false);
    expect(labVersion(fleet.root, 'WIDE', 'OTHER2022')).toBe('16.0.4085.0');
    expect(labVersion(fleet.root, 'WIDE', 'CURRENT')).toBe('15.0.4395.2');
    // Seen, not made a target of later plans.
    expect(readHistory(fleet.root, "SELECT is_active, source FROM servers WHERE instance = 'REPORTS'")).toEqual([{ is_active: 0, source: 'patched_alongside' }]);
  });

  it('with /InstanceName=: only the planned instance is patched; the other is neither touched nor recorded', () => {
    expect(labVersion(fleet.root, 'NAMED', 'SIDE')).toBe('16.0.4085.0');
    expect(targets.some((t) => t.instance === 'SIDE')).toBe(false);
    expect(readLabWorld<{ parameters: string }>(fleet.root, "SELECT parameters FROM lab_executions WHERE server = 'NAMED'")).toEqual([
      { parameters: '/quiet /IAcceptSQLServerLicenseTerms /Action=Patch /InstanceName=MSSQLSERVER' },
    ]);
  });

  it('shows it in the run summary, --hotfix-history (text and JSON) and the workbook', async () => {
    expect(result.stdout).toContain('Patched alongside (no target names them; setup ran with /AllInstances):');
    expect(result.stdout).toContain('WIDE\\REPORTS: success, 15.0.4298.1 → 15.0.4395.2');
    const text = runCli(['--hotfix-history', '--run-id', '1', '--config', fleet.config]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/WIDE\\REPORTS \(alongside\)\s+success\s+15\.0\.4298\.1 → 15\.0\.4395\.2/);
    const json = runCli(['--hotfix-history', '--run-id', '1', '--json', '--config', fleet.config]);
    const detail = JSON.parse(json.stdout) as { targets: { instance: string; patched_alongside: boolean; pre_build: string; post_build: string }[] };
    expect(detail.targets.find((t) => t.instance === 'REPORTS')).toMatchObject({ patched_alongside: true, pre_build: '15.0.4298.1', post_build: '15.0.4395.2' });
    expect(detail.targets.find((t) => t.instance === 'MSSQLSERVER')).toMatchObject({ patched_alongside: false });

    const report = runCli(['--hotfix-report', '--json', '--config', fleet.config]);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile((JSON.parse(report.stdout) as { report: string }).report);
    const sheet = workbook.worksheets.find((w) => w.name.endsWith('Hotfix Deployment'))!;
    const header = (sheet.getRow(1).values as unknown[]).slice(1).map(String);
    const rows = [];
    for (let n = 2; n <= sheet.rowCount; n++) rows.push([header.indexOf('Instance'), header.indexOf('Patched alongside'), header.indexOf('Pre build'), header.indexOf('Post build')].map((i) => sheet.getRow(n).getCell(i + 1).value));
    expect(rows).toContainEqual(['REPORTS', 'Yes', '15.0.4298.1', '15.0.4395.2']);
    expect(rows).toContainEqual(['MSSQLSERVER', 'No', '15.0.4298.1', '15.0.4395.2']);
  });
});
