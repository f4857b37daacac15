import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { readHistory } from '../helpers/labFleet.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { RunDetailJson, RunListJson } from '../../src/report/historyData.js';
import type { EventRow, RunRow, StepRow, TargetRow } from '../../src/store/history.js';
import { TARGET_STATUS } from '../../src/store/states.js';
import { labFleet } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';
import { makeRetryRun, makeRunWithOneTargetInEachState, openTestHistory } from './builders.js';

/** A lab root (valid configuration) whose history.db holds the two builder runs. */
function rootWithTwoRuns(): { root: string; config: string; firstRunId: number; secondRunId: number } {
  const { root, config } = labFleet([{ server: 'LAB-SQL01' }]);
  onTestFinished((context) => {
    if (context.task.result?.state !== 'fail') rmSync(root, { recursive: true, force: true });
  });
  const { history, clock, db } = openTestHistory(root);
  const first = makeRunWithOneTargetInEachState(history, clock);
  const second = makeRetryRun(history, clock, first.runId);
  db.close();
  return { root, config, firstRunId: first.runId, secondRunId: second.runId };
}

describe('--hotfix-history', () => {
  it('--json lists the runs newest first with their counts per target status, as history.db has them', () => {
    const { root, config } = rootWithTwoRuns();
    const result = runCli(['--hotfix-history', '--json', '--config', config]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const list = JSON.parse(result.stdout) as RunListJson;
    const runs = readHistory<RunRow>(root, 'SELECT * FROM hotfix_runs ORDER BY id DESC');
    expect(list.runs.map((r) => r.id)).toEqual(runs.map((r) => r.id));
    for (const [index, run] of runs.entries()) {
      const listed = list.runs[index]!;
      expect(listed).toMatchObject({
        started_at: run.started_at,
        finished_at: run.finished_at,
        mode: run.mode,
        status: run.status,
        parent_run_id: run.parent_run_id,
        operator: run.operator,
        host: run.host,
        exit_code: run.exit_code,
      });
      const targets = readHistory<TargetRow>(root, 'SELECT * FROM hotfix_targets WHERE hotfix_run_id = ?', run.id);
      expect(Object.keys(listed.targets)).toEqual([...TARGET_STATUS]);
      for (const status of TARGET_STATUS) expect(listed.targets[status]).toBe(targets.filter((t) => t.status === status).length);
      expect(listed.target_total).toBe(targets.length);
    }
  });

  it('--run-id N --json shows the run, its targets with their steps, and the tail of its events', () => {
    const { root, config, firstRunId } = rootWithTwoRuns();
    const result = runCli(['--hotfix-history', '--run-id', String(firstRunId), '--json', '--config', config]);
    expect(result.code).toBe(0);
    const detail = JSON.parse(result.stdout) as RunDetailJson;
    expect(detail.run).toMatchObject({ id: firstRunId, status: 'interrupted', exit_code: 130, finished_at: null, options: { max_concurrent: 3 } });

    const targets = readHistory<TargetRow>(root, 'SELECT * FROM hotfix_targets WHERE hotfix_run_id = ? ORDER BY server, instance', firstRunId);
    expect(detail.targets.map((t) => [t.server, t.status, t.pre_build, t.post_build, t.target_build])).toEqual(
      targets.map((t) => [t.server, t.status, t.pre_build, t.post_build, t.target_build]),
    );
    const steps = readHistory<StepRow>(
      root,
      'SELECT s.* FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id WHERE t.hotfix_run_id = ? ORDER BY s.id',
      firstRunId,
    );
    const listedSteps = detail.targets.flatMap((t) => t.steps).sort((a, b) => a.id - b.id);
    expect(listedSteps.map((s) => [s.id, s.installer, s.status, s.exit_code, s.required])).toEqual(
      steps.map((s) => [s.id, s.installer_file, s.status, s.exit_code, s.required === 1]),
    );
    const ok = detail.targets.find((t) => t.server === 'SQL-OK')!;
    expect(ok).toMatchObject({ requires_restart: true, reached: true, duration_ms: 12 * 60_000 });

    const events = readHistory<EventRow>(root, 'SELECT * FROM hotfix_events WHERE hotfix_run_id = ? ORDER BY id', firstRunId);
    expect(detail.events.total).toBe(events.length);
    expect(detail.events.tail.map((e) => e.id)).toEqual(events.slice(-20).map((e) => e.id));
  });

  it('prints readable tables for the list and for one run', () => {
    const { config, firstRunId, secondRunId } = rootWithTwoRuns();
    const list = runCli(['--hotfix-history', '--config', config]);
    expect(list.code).toBe(0);
    const lines = list.stdout.split('\n');
    expect(lines.find((l) => l.startsWith('RUN '))).toMatch(/RUN\s+STARTED \(UTC\)\s+FINISHED \(UTC\)\s+MODE\s+STATUS\s+OPERATOR\s+HOST\s+EXIT\s+TARGETS/);
    expect(lines.find((l) => l.startsWith(`${secondRunId} `))).toMatch(/2026-03-03 09:30:00 .* retry of 1 +failed +dba\.bob +ADMIN-02 +1 +1 success, 1 failed/);
    expect(lines.find((l) => l.startsWith(`${firstRunId} `))).toMatch(/deploy +interrupted +dba\.alice +ADMIN-01 +130 +1 pending, 2 in_progress, 1 success, 1 partial, 1 failed, 2 skipped/);

    const one = runCli(['--hotfix-history', '--run-id', String(firstRunId), '--config', config]);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain(`Run ${firstRunId}: interrupted (exit code 130)`);
    expect(one.stdout).toMatch(/SQL-PARTIAL\\MSSQLSERVER +partial +13\.0\.6300\.2 → 13\.0\.6404\.1 +13\.0\.6441\.1/);
    expect(one.stdout).toMatch(/SQL-PARTIAL\\MSSQLSERVER +2 +CU17\.exe +no +failed +1603/);
    expect(one.stdout).toMatch(/Last 20 of \d+ events:/);
  });

  it('a run id that does not exist exits 2 with a clear message, for history and report alike', () => {
    const { config } = rootWithTwoRuns();
    for (const command of ['--hotfix-history', '--hotfix-report']) {
      const result = runCli([command, '--run-id', '99', '--json', '--config', config]);
      expect(result.code, command).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('there is no run 99 in');
      expect(result.stderr).toContain('--hotfix-history');
    }
  });

  it('an empty history says so and exits 0, without creating history.db', () => {
    const { root, config } = labFleet([{ server: 'LAB-SQL01' }]);
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    const text = runCli(['--hotfix-history', '--config', config]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('No runs recorded yet');
    const json = runCli(['--hotfix-history', '--json', '--config', config]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ runs: [] });
    const report = runCli(['--hotfix-report', '--json', '--config', config]);
    expect(report.code).toBe(0);
    expect(JSON.parse(report.stdout)).toEqual({ report: null, run_id: null });
    expect(existsSync(path.join(root, 'output', 'history.db'))).toBe(false);
  });
});

describe('--hotfix-report', () => {
  it('--json writes the latest run, or --run-id N, and prints the path and the run id', () => {
    const { root, config, firstRunId, secondRunId } = rootWithTwoRuns();
    const latest = runCli(['--hotfix-report', '--json', '--config', config]);
    expect(latest.code).toBe(0);
    const printed = JSON.parse(latest.stdout) as { report: string; run_id: number };
    expect(printed.run_id).toBe(secondRunId);
    expect(path.dirname(printed.report)).toBe(path.join(root, 'output', 'reports'));
    expect(path.basename(printed.report)).toMatch(new RegExp(`^hotfix_run${secondRunId}_\\d{8}_\\d{6}(_\\d+)?\\.xlsx$`));
    expect(existsSync(printed.report)).toBe(true);

    const chosen = runCli(['--hotfix-report', '--run-id', String(firstRunId), '--config', config]);
    expect(chosen.code).toBe(0);
    expect(chosen.stdout).toMatch(new RegExp(`^Report for run ${firstRunId} \\(interrupted\\): .*hotfix_run${firstRunId}_\\d{8}_\\d{6}(_\\d+)?\\.xlsx\\n$`));
  });
});
