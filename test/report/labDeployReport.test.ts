import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ExcelJS from 'exceljs';
import { readHistory } from '../helpers/labFleet.js';
import { describe, expect, it } from 'vitest';
import type { RunListJson } from '../../src/report/historyData.js';
import { BUILDS_SHEET, deploymentSheetName, STEPS_SHEET, SUMMARY_SHEET, TREND_SHEET } from '../../src/report/workbook.js';
import type { RunRow, StepRow, TargetRow } from '../../src/store/history.js';
import { runCliAsync } from '../helpers/runCli.js';
import { testFolder } from './builders.js';

const EXAMPLE_LAB = fileURLToPath(new URL('../fixtures/standalone-lab/', import.meta.url));

/** A private copy of the standalone lab fixture (test/fixtures/standalone-lab, the fleet examples/lab once was; without its output), so tests can deploy to it in parallel. */
function copyOfExampleLab(): { root: string; config: string } {
  const root = testFolder('lab');
  cpSync(EXAMPLE_LAB, root, { recursive: true, filter: (source) => path.relative(EXAMPLE_LAB, source).split(path.sep)[0] !== 'output' });
  return { root, config: path.join(root, 'config', 'audit_config.json') };
}

describe('report after a lab deployment', () => {
  it('is written after the summary, one row per recorded target and step, and history agrees', async () => {
    const { root, config } = copyOfExampleLab();
    const deploy = await runCliAsync(['--lab-reset', '--deploy-hotfixes', '--yes', '--config', config]);
    // The example fleet fails some targets on purpose: exit 1, with the report still written.
    expect(deploy.code, deploy.stderr).toBe(1);
    const reported = /^Report: (.+\.xlsx)$/m.exec(deploy.stdout)?.[1];
    expect(reported, deploy.stdout).toBeDefined();
    expect(deploy.stdout.indexOf('Report: ')).toBeGreaterThan(deploy.stdout.indexOf('Targets: '));
    expect(path.dirname(reported!)).toBe(path.join(root, 'output', 'reports'));

    const [run] = readHistory<RunRow>(root, 'SELECT * FROM hotfix_runs');
    const targets = readHistory<TargetRow>(root, 'SELECT * FROM hotfix_targets WHERE hotfix_run_id = ?', run!.id);
    const steps = readHistory<StepRow>(root, 'SELECT * FROM hotfix_steps');
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(reported!);
    const sheetName = deploymentSheetName(new Date(run!.started_at));
    expect(workbook.worksheets.map((w) => w.name)).toEqual([sheetName, STEPS_SHEET, SUMMARY_SHEET, TREND_SHEET, BUILDS_SHEET]);
    const deployment = workbook.getWorksheet(sheetName)!;
    expect(deployment.rowCount).toBe(targets.length + 1);
    const fromSheet = new Map<string, unknown[]>();
    for (let n = 2; n <= deployment.rowCount; n++) {
      const values = (deployment.getRow(n).values as unknown[]).slice(1);
      fromSheet.set(`${values[0]}\\${values[1]}`, values);
    }
    for (const t of targets) {
      const values = fromSheet.get(`${t.server}\\${t.instance}`);
      expect(values, `${t.server}\\${t.instance}`).toBeDefined();
      // Columns: server, instance, family, edition, pre, post, target, status.
      expect(values!.slice(4, 8)).toEqual([t.pre_build ?? undefined, t.post_build ?? undefined, t.target_build ?? undefined, t.status]);
    }
    expect(new Set(targets.map((t) => t.status))).toEqual(new Set(['success', 'partial', 'failed', 'skipped']));
    expect(workbook.getWorksheet(STEPS_SHEET)!.rowCount).toBe(steps.length + 1);

    const history = await runCliAsync(['--hotfix-history', '--json', '--config', config]);
    expect(history.code).toBe(0);
    const list = JSON.parse(history.stdout) as RunListJson;
    expect(list.runs).toHaveLength(1);
    expect(list.runs[0]).toMatchObject({ id: run!.id, status: run!.status, exit_code: 1, target_total: targets.length });
    expect(list.runs[0]!.targets.failed).toBe(targets.filter((t) => t.status === 'failed').length);
  });

  it('a report that cannot be written is a warning: the exit code and the history stay as they were', async () => {
    const { root, config } = copyOfExampleLab();
    // A file where the reports folder should be: creating the folder fails.
    mkdirSync(path.join(root, 'output'), { recursive: true });
    writeFileSync(path.join(root, 'output', 'reports'), 'not a folder');
    const deploy = await runCliAsync(['--lab-reset', '--deploy-hotfixes', '--yes', '--server', 'LAB-SQL01', '--config', config]);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.stderr).toMatch(/warning: the report for run 1 could not be written \(.+\); the run is recorded in history\.db/);
    expect(deploy.stdout).not.toContain('Report: ');
    const [run] = readHistory<RunRow>(root, 'SELECT * FROM hotfix_runs');
    expect(run).toMatchObject({ status: 'succeeded', exit_code: 0 });
    expect(readHistory<TargetRow>(root, 'SELECT * FROM hotfix_targets').map((t) => t.status)).toEqual(['success']);
    const logs = readdirSync(path.join(root, 'output', 'logs'));
    expect(logs).toHaveLength(1);
    expect(existsSync(path.join(root, 'output', 'reports'))).toBe(true);
  });
});
