import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { labExecutions, labFleet, readHistory, readLabWorld } from '../helpers/labFleet.js';
import { CLI, runCli } from '../helpers/runCli.js';

/**
 * Setup extracts where the tool chose: each package is extracted with /x: into a folder of its own
 * under the staging root, setup.exe runs from there, and the folder is removed afterwards, after a
 * failure or a stop too; a resumed run removes what a crash left. Through the built CLI on the lab.
 */

interface LabEvent {
  server: string;
  kind: string;
  detail: string;
}

const EXTRACT_ROOT = 'C:\\ProgramData\\AutoDBAudit\\staging\\extract\\';
const extractionEvents = (root: string) =>
  readLabWorld<LabEvent>(root, "SELECT server, kind, detail FROM lab_events WHERE kind IN ('extracted', 'extraction_removed') ORDER BY id").map((e) => ({
    server: e.server,
    kind: e.kind,
    ...(JSON.parse(e.detail) as { path: string; execution_id: string; reason?: string }),
  }));
const leftOnDisk = (root: string) => readLabWorld(root, 'SELECT server, path FROM lab_extractions WHERE removed_at IS NULL');

describe('extraction with /x:', () => {
  it('extracts each package into its own folder under the staging root and removes it once setup ends, failed or not', () => {
    const fleet = labFleet([{ server: 'OK' }, { server: 'FAILS', simulation: { installers: { 'CU30.exe': { exit_codes: [1603] } } } }]);
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    const executions = labExecutions(fleet.root);
    expect(executions.map((e) => e.server).sort()).toEqual(['FAILS', 'OK']);
    const events = extractionEvents(fleet.root);
    for (const execution of executions) {
      const path = `${EXTRACT_ROOT}${execution.execution_id}`;
      const mine = events.filter((e) => e.execution_id === execution.execution_id);
      expect(mine.map((e) => [e.server, e.kind, e.path, e.reason])).toEqual([
        [execution.server, 'extracted', path, undefined],
        [execution.server, 'extraction_removed', path, 'setup ended'],
      ]);
    }
    expect(leftOnDisk(fleet.root)).toEqual([]);
  });

  it('removes the folder of a setup stopped at its timeout', () => {
    const fleet = labFleet([{ server: 'HANG', simulation: { installers: { 'CU30.exe': { hang: true } } } }], {
      hotfix: { step_timeout_minutes: 0.01, timeout_action: 'kill' },
    });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(extractionEvents(fleet.root).map((e) => [e.kind, e.reason])).toEqual([
      ['extracted', undefined],
      ['extraction_removed', 'setup was stopped'],
    ]);
    expect(leftOnDisk(fleet.root)).toEqual([]);
  });

  it('a crash after extracting and before setup started: --resume removes the leftover, extracts again and runs setup once', () => {
    const fleet = labFleet([{ server: 'A' }]);
    const crashed = spawnSync(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--config', fleet.config], {
      env: { ...process.env, AUTODBAUDIT_CRASH_AT: 'setup-extracted' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(crashed.signal).toBe('SIGKILL');
    expect(labExecutions(fleet.root)).toEqual([]);
    expect(leftOnDisk(fleet.root)).toHaveLength(1);

    const resumed = runCli(['--deploy-hotfixes', '--resume', '--yes', '--config', fleet.config]);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    const executions = labExecutions(fleet.root);
    expect(executions).toHaveLength(1);
    const path = `${EXTRACT_ROOT}${executions[0]!.execution_id}`;
    expect(extractionEvents(fleet.root).map((e) => [e.kind, e.path, e.reason])).toEqual([
      ['extracted', path, undefined],
      ['extraction_removed', path, 'left by an execution that is over'],
      ['extracted', path, undefined],
      ['extraction_removed', path, 'setup ended'],
    ]);
    expect(leftOnDisk(fleet.root)).toEqual([]);
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_targets')).toEqual([{ status: 'success' }]);
  });
});
