import path from 'node:path';
import Database from '../../src/store/sqlite.js';
import { describe, expect, it } from 'vitest';
import { labExecutions, labFleet, readHistory } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';

interface StepRow {
  server: string;
  installer_file: string;
  status: string;
  exit_code: number | null;
  error_message: string | null;
}

const STEPS = `SELECT t.server, s.installer_file, s.status, s.exit_code, s.error_message
  FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id ORDER BY t.server, s.step_order`;

function labEvents(root: string): { server: string; instance: string | null; kind: string; detail: string }[] {
  const db = new Database(path.join(root, 'output/lab/world.db'), { readonly: true });
  try {
    return db.prepare('SELECT server, instance, kind, detail FROM lab_events ORDER BY id').all() as never;
  } finally {
    db.close();
  }
}

// SQL Server 2016 SP3 then an optional CU17: SP3 takes 600 simulated seconds (3 s at this time scale),
// far beyond the 0.6 s step timeout.
const SLOW_SP3 = { seconds: 600, msi_transaction: true };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a step timeout', () => {
  it('by default leaves an installer inside a Windows Installer transaction running, holds the host back, and --resume settles it', async () => {
    const fleet = labFleet(
      [
        { server: 'MSI', version: '13.0.6300.2', simulation: { installers: { 'SP3.exe': SLOW_SP3 } } },
        { server: 'PLAIN', version: '13.0.6300.2', simulation: { installers: { 'SP3.exe': { seconds: 600 } } } },
      ],
      { hotfix: { step_timeout_minutes: 0.01 } },
    );
    const first = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(first.code, first.stdout + first.stderr).toBe(1);
    const steps = readHistory<StepRow>(fleet.root, STEPS);
    const msi = steps.filter((s) => s.server === 'MSI');
    expect(msi.map((s) => s.status)).toEqual(['interrupted', 'pending']);
    const [msiTarget] = readHistory<{ error_message: string }>(fleet.root, "SELECT error_message FROM hotfix_targets WHERE server = 'MSI'");
    expect(msiTarget!.error_message).toContain('was left running: it is inside a Windows Installer transaction');
    expect(msiTarget!.error_message).toContain("The host's later steps are held back; run --deploy-hotfixes --resume");
    expect(first.stdout + first.stderr).toContain('was left running');
    // Outside a transaction the default stops the installer, as before.
    expect(steps.filter((s) => s.server === 'PLAIN').map((s) => s.status)).toEqual(['failed', 'skipped']);
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_runs')).toEqual([{ status: 'interrupted' }]);
    const executions = labExecutions(fleet.root);
    expect(executions.find((e) => e.server === 'MSI')).toMatchObject({ killed: 0, finished_at: null });
    expect(executions.find((e) => e.server === 'PLAIN')).toMatchObject({ killed: 1 });
    expect(labEvents(fleet.root).filter((e) => e.kind === 'instance_broken')).toEqual([]);

    // Once SP3 has finished on the host, --resume records its real exit code and runs the held-back CU.
    await sleep(3500);
    const resumed = runCli(['--deploy-hotfixes', '--resume', '--yes', '--config', fleet.config]);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(1);
    const after = readHistory<StepRow>(fleet.root, STEPS).filter((s) => s.server === 'MSI');
    expect(after.map((s) => [s.status, s.exit_code])).toEqual([
      ['success', 0],
      ['success', 0],
    ]);
    expect(readHistory<{ status: string }>(fleet.root, "SELECT status FROM hotfix_targets WHERE server = 'MSI'")).toEqual([{ status: 'success' }]);
    expect(labExecutions(fleet.root).filter((e) => e.server === 'MSI' && e.installer === 'SP3.exe')).toHaveLength(1);
    expect(labEvents(fleet.root).filter((e) => e.kind === 'instance_broken')).toEqual([]);
  });

  it('with timeout_action "kill" stops it even inside a transaction, and the lab records the instance broken', () => {
    const fleet = labFleet([{ server: 'MSI', version: '13.0.6300.2', simulation: { installers: { 'SP3.exe': SLOW_SP3 } } }], {
      hotfix: { step_timeout_minutes: 0.01, timeout_action: 'kill' },
    });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code).toBe(1);
    expect(readHistory<StepRow>(fleet.root, STEPS).map((s) => s.status)).toEqual(['failed', 'skipped']);
    const broken = labEvents(fleet.root).filter((e) => e.kind === 'instance_broken');
    expect(broken.map((e) => [e.server, e.instance])).toEqual([['MSI', 'MSSQLSERVER']]);
    expect(JSON.parse(broken[0]!.detail).reason).toContain('stopped inside a Windows Installer transaction');
  });

  it('with timeout_action "leave_running" never stops it', () => {
    const fleet = labFleet([{ server: 'PLAIN', version: '13.0.6300.2', simulation: { installers: { 'SP3.exe': { seconds: 600 } } } }], {
      hotfix: { step_timeout_minutes: 0.01, timeout_action: 'leave_running' },
    });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code).toBe(1);
    const steps = readHistory<StepRow>(fleet.root, STEPS);
    expect(steps.map((s) => s.status)).toEqual(['interrupted', 'pending']);
    const [target] = readHistory<{ error_message: string }>(fleet.root, 'SELECT error_message FROM hotfix_targets');
    expect(target!.error_message).toContain('was left running: timeout_action is leave_running');
    expect(labExecutions(fleet.root)[0]).toMatchObject({ killed: 0 });
  });
});
