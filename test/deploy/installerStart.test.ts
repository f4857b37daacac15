import { describe, expect, it } from 'vitest';
import { labFleet, readHistory, readLabWorld } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';

/**
 * How setup is started (`installer_start`), and Defender's ASR rule "Block process creations
 * originating from PSExec and WMI commands" (lab key `asr_wmi_rule`), through the built CLI on the lab.
 */

interface TargetRow {
  server: string;
  status: string;
  error_message: string | null;
}

const targetsOf = (root: string) => new Map(readHistory<TargetRow>(root, 'SELECT server, status, error_message FROM hotfix_targets').map((t) => [t.server, t]));
const startedBy = (root: string) =>
  Object.fromEntries(readLabWorld<{ server: string; started_by: string }>(root, 'SELECT server, started_by FROM lab_executions ORDER BY id').map((e) => [e.server, e.started_by]));
const RULE = `Defender's attack surface reduction rule "Block process creations originating from PSExec and WMI commands" (d1e49aac-8f56-4280-b9ba-993a6d77406c)`;

describe('installer_start', () => {
  const fleet = [
    { server: 'PLAIN' },
    { server: 'ASRBLOCK', simulation: { asr_wmi_rule: 'block' } },
    { server: 'ASRWARN', simulation: { asr_wmi_rule: 'warn' } },
    { server: 'ASRAUDIT', simulation: { asr_wmi_rule: 'audit' } },
  ];

  it('scheduled_task (the default) patches every host, the ASR rule in block mode included, and notes the rule', () => {
    const f = labFleet(fleet);
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', f.config]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect([...targetsOf(f.root).values()].map((t) => t.status)).toEqual(['success', 'success', 'success', 'success']);
    expect(startedBy(f.root)).toEqual({ PLAIN: 'scheduled_task', ASRBLOCK: 'scheduled_task', ASRWARN: 'scheduled_task', ASRAUDIT: 'scheduled_task' });
    const notes = readHistory<{ message: string }>(f.root, "SELECT message FROM hotfix_events WHERE kind = 'preflight_note' AND message LIKE '%attack surface%' ORDER BY id").map((e) => e.message);
    expect(notes.sort()).toEqual([
      `ASRBLOCK: ${RULE} is in block mode; setup is started through a scheduled task, which the rule does not block`,
      `ASRWARN: ${RULE} is in warn mode; setup is started through a scheduled task, which the rule does not block`,
    ]);
  });

  it('wmi: pre-flight refuses the hosts where the rule blocks it, naming the rule and what to do, and patches the others through WMI', () => {
    const f = labFleet(fleet, { hotfix: { installer_start: 'wmi' } });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', f.config]);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    const targets = targetsOf(f.root);
    expect(targets.get('PLAIN')!.status).toBe('success');
    expect(targets.get('ASRAUDIT')!.status).toBe('success');
    for (const [server, mode] of [
      ['ASRBLOCK', 'block'],
      ['ASRWARN', 'warn'],
    ] as const) {
      expect(targets.get(server)).toMatchObject({
        status: 'skipped',
        error_message: `${server}: skipped by pre-flight: ${RULE} is in ${mode} mode, which stops setup started through WMI (installer_start "wmi"): use installer_start "scheduled_task", or set the rule to audit for the patching window`,
      });
    }
    expect(startedBy(f.root)).toEqual({ PLAIN: 'wmi', ASRAUDIT: 'wmi' });
  });

  it('refuses an unknown installer_start naming the file and the field', () => {
    const f = labFleet([{ server: 'PLAIN' }], { hotfix: { installer_start: 'psexec' } });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', f.config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/audit_config\.json.*hotfix\.installer_start/);
  });
});
