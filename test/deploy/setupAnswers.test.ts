import { describe, expect, it } from 'vitest';
import { labFleet, readHistory } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';

interface Row {
  server: string;
  status: string;
  requires_restart: number;
  error_message: string | null;
  exit_code: number;
  setup_final_result: string | null;
  setup_exit_code: number | null;
}

describe("setup's answers", () => {
  const fleet = labFleet([
    { server: 'OK' },
    { server: 'RESTART', simulation: { installers: { 'CU30.exe': { exit_codes: [3010] } } } },
    { server: 'PENDING', simulation: { installers: { 'CU30.exe': { exit_codes: [-2067919934] } } } },
  ]);
  const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
  const rows = new Map(
    readHistory<Row>(
      fleet.root,
      `SELECT t.server, t.status, t.requires_restart, t.error_message, s.exit_code, v.final_result AS setup_final_result, v.exit_code AS setup_exit_code
       FROM hotfix_targets t JOIN hotfix_steps s ON s.hotfix_target_id = t.id LEFT JOIN hotfix_setup_verdicts v ON v.execution_id = s.execution_id`,
    ).map((r) => [r.server, r]),
  );

  it('-2067919934 (0x84BE0BC2) is a failure that says to restart first, never a success wanting a restart', () => {
    expect(result.code).toBe(1);
    const pending = rows.get('PENDING')!;
    expect(pending).toMatchObject({ status: 'failed', requires_restart: 0, exit_code: -2067919934 });
    expect(pending.error_message).toContain('exited -2067919934 (SQL setup: restart the computer before setup can run');
    expect(pending.error_message).toContain('0x84BE0BC2');
  });

  it("records Summary.txt's Final result and exit code beside the process exit code", () => {
    expect(rows.get('OK')).toMatchObject({ exit_code: 0, setup_final_result: 'Passed', setup_exit_code: 0 });
    expect(rows.get('RESTART')).toMatchObject({
      status: 'success',
      requires_restart: 1,
      exit_code: 3010,
      setup_final_result: 'Passed but reboot required, see logs for details',
      setup_exit_code: 3010,
    });
    expect(rows.get('PENDING')).toMatchObject({ setup_final_result: 'Failed: see details below', setup_exit_code: -2067919934 });
  });
});
