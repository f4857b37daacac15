import { describe, expect, it } from 'vitest';
import { labExecutions, labFleet, readHistory, readLabWorld } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';

/** The staging folder on the targets, through the built CLI on the lab (lab key `staging_folder`). */

interface TargetRow {
  server: string;
  status: string;
  error_message: string | null;
}

const DEFAULT_STAGING = 'C:\\ProgramData\\AutoDBAudit\\staging';
const targetsOf = (root: string) => new Map(readHistory<TargetRow>(root, 'SELECT server, status, error_message FROM hotfix_targets').map((t) => [t.server, t]));
const labEvents = (root: string, kind: string) => readLabWorld<{ server: string; detail: string }>(root, 'SELECT server, detail FROM lab_events WHERE kind = ? ORDER BY id', kind);

describe('the staging folder', () => {
  const fleet = labFleet([
    { server: 'NEW' },
    { server: 'OWNED', simulation: { staging_folder: { owner: 'LAB\\mallory' } } },
    { server: 'OPEN', simulation: { staging_folder: { writable_by: ['BUILTIN\\Users'] } } },
    { server: 'KEPT', simulation: { staging_folder: { owner: 'NT AUTHORITY\\SYSTEM', writable_by: ['BUILTIN\\Administrators'] } } },
  ]);
  const first = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
  const targets = targetsOf(fleet.root);

  it('is created by default under ProgramData, protected, on a host that has none, and the host is patched', () => {
    expect(first.code, first.stdout + first.stderr).toBe(1);
    expect(targets.get('NEW')).toMatchObject({ status: 'success' });
    expect(labEvents(fleet.root, 'staging_folder_created')).toEqual([{ server: 'NEW', detail: JSON.stringify({ path: DEFAULT_STAGING }) }]);
    const created = readHistory<{ message: string }>(fleet.root, "SELECT message FROM hotfix_events WHERE kind = 'staging_folder_created'");
    expect(created.map((e) => e.message)).toEqual([`NEW: created the staging folder ${DEFAULT_STAGING}, writable by SYSTEM and Administrators only`]);
    const staged = labEvents(fleet.root, 'file_staged').map((e) => `${e.server} ${JSON.parse(e.detail).path}`);
    expect(staged).toContain(`NEW ${DEFAULT_STAGING}\\CU30.exe`);
  });

  it('refuses a host whose folder someone else owns, naming the host, the folder and the owner, before anything is copied or run', () => {
    expect(targets.get('OWNED')!.status).toBe('skipped');
    expect(targets.get('OWNED')!.error_message).toMatch(
      /^OWNED: skipped by pre-flight: the staging folder "C:\\ProgramData\\AutoDBAudit\\staging" is not safe to run installers from: it is owned by LAB\\mallory \(S-1-5-21-[0-9-]+\), not by SYSTEM or Administrators\. Remove it/,
    );
    expect(first.stdout).toContain('OWNED: skipped by pre-flight: the staging folder');
  });

  it('refuses a host whose folder others can write to, naming them', () => {
    expect(targets.get('OPEN')!.status).toBe('skipped');
    expect(targets.get('OPEN')!.error_message).toContain('is not safe to run installers from: BUILTIN\\Users (S-1-5-32-545) can write to it');
  });

  it('keeps a folder that is there and safe (SYSTEM-owned, Administrators writing) without creating it again', () => {
    expect(targets.get('KEPT')).toMatchObject({ status: 'success' });
    const refused = new Set(['OWNED', 'OPEN']);
    expect(labExecutions(fleet.root).filter((e) => refused.has(e.server))).toEqual([]);
    expect(labEvents(fleet.root, 'file_staged').filter((e) => refused.has(e.server))).toEqual([]);
  });

  it('a --stage-only run refuses the same hosts and stages nothing there', () => {
    const staging = labFleet([{ server: 'OWNED', simulation: { staging_folder: { owner: 'LAB\\mallory' } } }, { server: 'NEW' }]);
    const result = runCli(['--deploy-hotfixes', '--stage-only', '--yes', '--config', staging.config]);
    expect(result.stdout + result.stderr).toContain('OWNED: skipped by pre-flight: the staging folder "C:\\ProgramData\\AutoDBAudit\\staging" is not safe');
    expect(labEvents(staging.root, 'file_staged').map((e) => e.server)).toEqual(['NEW']);
  });
});
