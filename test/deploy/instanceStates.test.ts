import { describe, expect, it } from 'vitest';
import { labExecutions, labFleet, readHistory } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';

interface TargetRow {
  server: string;
  status: string;
  pre_build: string;
  post_build: string | null;
  error_message: string | null;
}

const targetsOf = (root: string) => new Map(readHistory<TargetRow>(root, 'SELECT * FROM hotfix_targets').map((t) => [t.server, t]));
const eventsOf = (root: string) => readHistory<{ server: string; kind: string; message: string }>(root, 'SELECT server, kind, message FROM hotfix_events');

describe('instances without a running Agent or engine', () => {
  const fleet = labFleet([
    { server: 'EXPRESS', edition: 'Express Edition (64-bit)', simulation: { agent_state: 'absent' } },
    { server: 'AGENTOFF', simulation: { agent_state: 'stopped' } },
    { server: 'ENGINEOFF', simulation: { engine_state: 'stopped' } },
  ]);
  const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
  const targets = targetsOf(fleet.root);
  const events = eventsOf(fleet.root);

  it('are patched: pre-flight requires nothing of SQL Server Agent, and setup patches a stopped engine', () => {
    expect(result.code, result.stdout + result.stderr).toBe(0);
    for (const server of ['EXPRESS', 'AGENTOFF', 'ENGINEOFF']) {
      expect(targets.get(server)).toMatchObject({ status: 'success', pre_build: '15.0.4298.1', post_build: '15.0.4395.2' });
    }
  });

  it('are reported in the log and history.db as pre-flight found them', () => {
    const notes = events.filter((e) => e.kind === 'preflight_note').map((e) => e.message);
    expect(notes).toContain('EXPRESS: SQL Server Agent SQLSERVERAGENT is not installed (Express has no Agent); patching does not need it');
    expect(notes).toContain('AGENTOFF: SQL Server Agent SQLSERVERAGENT is Stopped; patching does not need it');
    expect(notes).toContain(
      'ENGINEOFF: database engine MSSQLSERVER is Stopped: setup patches it as it is and leaves it Stopped; the post-check reads its build from the registry',
    );
    expect(result.stdout).toContain('ENGINEOFF: database engine MSSQLSERVER is Stopped');
  });
});

describe('allowed_signers', () => {
  const contoso = JSON.stringify({ lab_installer: 1, family: '2019', sets_build: '15.0.4395.2', seconds: 10, signer: 'CN=Contoso Ltd, O=Contoso, C=US' });

  it('refuses a host whose staged installer another publisher signed, before anything runs, naming the signer', () => {
    const fleet = labFleet([{ server: 'A' }], { extraFiles: { 'hotfixes/2019/CU30.exe': contoso } });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code).toBe(1);
    const target = targetsOf(fleet.root).get('A')!;
    expect(target.status).toBe('skipped');
    expect(target.error_message).toContain('CU30.exe');
    expect(target.error_message).toContain('is signed by "CN=Contoso Ltd, O=Contoso, C=US", which is not in allowed_signers');
    expect(labExecutions(fleet.root)).toEqual([]);
  });

  it('runs it when allowed_signers names that publisher', () => {
    const fleet = labFleet([{ server: 'A' }], {
      extraFiles: { 'hotfixes/2019/CU30.exe': contoso },
      hotfix: { allowed_signers: ['cn=Contoso Ltd,O=Contoso, C=US'] },
    });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(targetsOf(fleet.root).get('A')).toMatchObject({ status: 'success' });
  });

  it('refuses a host before its first installer runs when a later installer is untrusted', () => {
    const fleet = labFleet([{ server: 'B', version: '15.0.2000.5' }], { extraFiles: { 'hotfixes/2019/CU30.exe': contoso } });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code).toBe(1);
    expect(targetsOf(fleet.root).get('B')).toMatchObject({ status: 'skipped', post_build: null });
    expect(labExecutions(fleet.root)).toEqual([]);
  });
});
