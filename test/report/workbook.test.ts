import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { readRunReport, readTrend } from '../../src/report/runData.js';
import {
  deploymentSheetName,
  STEP_HEADERS,
  STEPS_SHEET,
  SUMMARY_SHEET,
  TARGET_HEADERS,
  TREND_SHEET,
  targetStatusFill,
  writeRunWorkbook,
} from '../../src/report/workbook.js';
import type { StepRow, TargetRow } from '../../src/store/history.js';
import { TARGET_STATUS } from '../../src/store/states.js';
import { ADMIN_HOST, makeRetryRun, makeRunWithOneTargetInEachState, OPERATOR, openTestHistory, testFolder } from './builders.js';

async function readWorkbook(file: string): Promise<ExcelJS.Workbook> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.readFile(file);
  return workbook;
}

function sheet(workbook: ExcelJS.Workbook, name: string): ExcelJS.Worksheet {
  const found = workbook.getWorksheet(name);
  if (!found) throw new Error(`no sheet ${name}; sheets: ${workbook.worksheets.map((w) => w.name).join(', ')}`);
  return found;
}

function headerOf(ws: ExcelJS.Worksheet): string[] {
  return (ws.getRow(1).values as unknown[]).slice(1).map(String);
}

/** The data rows as header → value records, the way a reader of the sheet sees them. */
function records(ws: ExcelJS.Worksheet): Record<string, ExcelJS.CellValue>[] {
  const header = headerOf(ws);
  const rows: Record<string, ExcelJS.CellValue>[] = [];
  for (let n = 2; n <= ws.rowCount; n++) {
    const row = ws.getRow(n);
    rows.push(Object.fromEntries(header.map((h, i) => [h, row.getCell(i + 1).value ?? null])));
  }
  return rows;
}

function cellOf(ws: ExcelJS.Worksheet, rowNumber: number, header: string): ExcelJS.Cell {
  const column = headerOf(ws).indexOf(header);
  if (column < 0) throw new Error(`no column ${header} in ${ws.name}`);
  return ws.getRow(rowNumber).getCell(column + 1);
}

/** Summary rows are label → value pairs in columns A and B. */
function summaryValue(ws: ExcelJS.Worksheet, label: string): ExcelJS.CellValue {
  for (let n = 1; n <= ws.rowCount; n++) {
    if (ws.getRow(n).getCell(1).value === label) return ws.getRow(n).getCell(2).value;
  }
  throw new Error(`no summary row ${label}`);
}

function expectSameInstant(actual: ExcelJS.CellValue, iso: string | null): void {
  if (iso === null) {
    expect(actual).toBeNull();
    return;
  }
  expect(actual).toBeInstanceOf(Date);
  // Excel keeps times as fractions of a day: a millisecond or two may round away.
  expect(Math.abs((actual as Date).getTime() - Date.parse(iso))).toBeLessThan(5);
}

function expectHeaderFrozenAndFiltered(ws: ExcelJS.Worksheet, columns: number): void {
  const view = ws.views[0];
  expect(view?.state).toBe('frozen');
  expect(view && 'ySplit' in view ? view.ySplit : undefined).toBe(1);
  const lastColumn = ws.getRow(1).getCell(columns).address.replace(/\d+$/, '');
  expect(String(ws.autoFilter)).toBe(`A1:${lastColumn}${ws.rowCount}`);
}

async function writeFor(root: string, runId: number, trendRuns?: number): Promise<string> {
  const { history } = openTestHistory(root);
  const data = readRunReport(history, runId, trendRuns === undefined ? {} : { trendRuns });
  if (!data) throw new Error(`run ${runId} not found`);
  return writeRunWorkbook(data, path.join(root, 'output', 'reports'));
}

describe('run workbook', () => {
  it('has the four sheets, one row per target and per step, matching history.db', async () => {
    const root = testFolder('wb');
    const { history, clock, db } = openTestHistory(root);
    const run = makeRunWithOneTargetInEachState(history, clock);
    expect(new Set(run.targets.map((t) => t.status))).toEqual(new Set(TARGET_STATUS));
    expect(new Set(run.steps.map((s) => s.status))).toEqual(new Set(['success', 'failed', 'skipped', 'pending', 'running', 'interrupted']));
    db.close();

    const file = await writeFor(root, run.runId);
    expect(path.basename(file)).toMatch(new RegExp(`^hotfix_run${run.runId}_\\d{8}_\\d{6}\\.xlsx$`));
    expect(path.dirname(file)).toBe(path.join(root, 'output', 'reports'));
    expect(existsSync(`${file}.partial`)).toBe(false);

    const workbook = await readWorkbook(file);
    expect(workbook.worksheets.map((w) => w.name)).toEqual(['2026 Hotfix Deployment', STEPS_SHEET, SUMMARY_SHEET, TREND_SHEET]);

    const targets = sheet(workbook, deploymentSheetName(new Date('2026-03-02T08:00:00Z')));
    expect(headerOf(targets)).toEqual(TARGET_HEADERS);
    expect(targets.rowCount).toBe(run.targets.length + 1);
    expectHeaderFrozenAndFiltered(targets, TARGET_HEADERS.length);
    const targetRecords = records(targets);
    run.targets.forEach((t: TargetRow) => {
      const index = targetRecords.findIndex((r) => r.Server === t.server && r.Instance === t.instance);
      expect(index, `${t.server} in the sheet`).toBeGreaterThanOrEqual(0);
      const r = targetRecords[index]!;
      expect(r.Status).toBe(t.status);
      expect(r.Family).toBe(t.version_family);
      expect(r['Pre build']).toBe(t.pre_build);
      expect(r['Post build']).toBe(t.post_build);
      expect(r['Target build']).toBe(t.target_build);
      expect(r['Restart required']).toBe(t.requires_restart ? 'Yes' : 'No');
      expect(r.Error).toBe(t.error_message);
      expectSameInstant(r['Started (UTC)'] ?? null, t.started_at);
      expectSameInstant(r['Finished (UTC)'] ?? null, t.completed_at);
      const status = cellOf(targets, index + 2, 'Status');
      expect(status.fill).toMatchObject({ type: 'pattern', pattern: 'solid', fgColor: { argb: targetStatusFill(t.status) } });
    });
    const ok = targetRecords.findIndex((r) => r.Server === 'SQL-OK');
    expect(cellOf(targets, ok + 2, 'Started (UTC)').numFmt).toBe('yyyy-mm-dd hh:mm:ss');
    // SQL-OK ran for 12 minutes: the duration is a day fraction shown as [h]:mm:ss.
    const duration = cellOf(targets, ok + 2, 'Duration');
    expect(duration.numFmt).toBe('[h]:mm:ss');
    const durationDays = duration.value instanceof Date ? (duration.value.getTime() - Date.UTC(1899, 11, 30)) / 86_400_000 : Number(duration.value);
    expect(durationDays * 24 * 60).toBeCloseTo(12, 3);

    const steps = sheet(workbook, STEPS_SHEET);
    expect(headerOf(steps)).toEqual(STEP_HEADERS);
    expect(steps.rowCount).toBe(run.steps.length + 1);
    expectHeaderFrozenAndFiltered(steps, STEP_HEADERS.length);
    const stepRecords = records(steps);
    const serverOf = new Map(run.targets.map((t) => [t.id, t.server]));
    run.steps.forEach((s: StepRow, index) => {
      const r = stepRecords[index]!;
      expect(r.Server).toBe(serverOf.get(s.hotfix_target_id));
      expect(r.Installer).toBe(s.installer_file);
      expect(r.Order).toBe(s.step_order);
      expect(r.Required).toBe(s.required ? 'Yes' : 'No');
      expect(r.Status).toBe(s.status);
      expect(r['Exit code']).toBe(s.exit_code);
      expectSameInstant(r['Started (UTC)'] ?? null, s.started_at);
    });
    const optionalFailure = stepRecords.find((r) => r.Server === 'SQL-PARTIAL' && r.Order === 2)!;
    expect(optionalFailure['Exit meaning']).toBe('fatal error during installation (ERROR_INSTALL_FAILURE)');
    expect(optionalFailure['Output excerpt']).toContain('Exit code (Decimal):           1603');
    expect(stepRecords.find((r) => r.Server === 'SQL-OK')!['Exit meaning']).toBe('success, restart required (ERROR_SUCCESS_REBOOT_REQUIRED)');

    const summary = sheet(workbook, SUMMARY_SHEET);
    expect(summaryValue(summary, 'Run id')).toBe(run.runId);
    expect(summaryValue(summary, 'Status')).toBe('interrupted');
    expect(summaryValue(summary, 'Exit code')).toBe(130);
    expect(summaryValue(summary, 'Operator')).toBe(OPERATOR);
    expect(summaryValue(summary, 'Host')).toBe(ADMIN_HOST);
    expect(summaryValue(summary, 'Option: max_concurrent')).toBe(3);
    expectSameInstant(summaryValue(summary, 'Started (UTC)'), '2026-03-02T08:00:00.000Z');
    for (const status of TARGET_STATUS) expect(summaryValue(summary, status)).toBe(run.targets.filter((t) => t.status === status).length);
    expect(summaryValue(summary, 'total')).toBe(run.targets.length);
  });

  it('shows the patch status over two runs in the trend sheet, oldest first', async () => {
    const root = testFolder('trend');
    const { history, clock, db } = openTestHistory(root);
    const first = makeRunWithOneTargetInEachState(history, clock);
    const second = makeRetryRun(history, clock, first.runId);
    db.close();

    const workbook = await readWorkbook(await writeFor(root, second.runId));
    expect(workbook.worksheets[0]?.name).toBe('2026 Hotfix Deployment');
    const summary = sheet(workbook, SUMMARY_SHEET);
    expect(summaryValue(summary, 'Parent run')).toBe(first.runId);
    expect(summaryValue(summary, 'Operator')).toBe('dba.bob');

    const trend = sheet(workbook, TREND_SHEET);
    expect(headerOf(trend)).toEqual([
      'Server',
      'Instance',
      'Family',
      `Run ${first.runId} (2026-03-02) build`,
      `Run ${first.runId} at target`,
      `Run ${second.runId} (2026-03-03) build`,
      `Run ${second.runId} at target`,
    ]);
    // Every instance of either run, once.
    expect(trend.rowCount).toBe(new Set(first.targets.map((t) => t.server)).size + 1);
    const byServer = new Map(records(trend).map((r) => [r.Server, Object.values(r).slice(3)]));
    expect(byServer.get('SQL-PARTIAL')).toEqual(['13.0.6404.1', 'No', '13.0.6441.1', 'Yes']);
    expect(byServer.get('SQL-PENDING')).toEqual(['14.0.3421.10', 'No', '14.0.3421.10', 'No']);
    expect(byServer.get('SQL-OK')).toEqual(['15.0.4395.2', 'Yes', null, null]);
    expect(byServer.get('SQL-CURRENT')).toEqual(['15.0.4395.2', 'Yes', null, null]);
    const view = trend.views[0];
    expect(view?.state).toBe('frozen');
    expect(trend.autoFilter).toBeTruthy();
  });

  it('limits the trend to the runs up to the reported one, newest kept', () => {
    const root = testFolder('trend-limit');
    const { history, clock } = openTestHistory(root);
    const first = makeRunWithOneTargetInEachState(history, clock);
    const second = makeRetryRun(history, clock, first.runId);
    expect(readTrend(history, first.runId, 20).runs.map((r) => r.id)).toEqual([first.runId]);
    expect(readTrend(history, second.runId, 1).runs.map((r) => r.id)).toEqual([second.runId]);
    expect(readTrend(history, second.runId, 20).runs.map((r) => r.id)).toEqual([first.runId, second.runId]);
  });
});

describe('reports written at once', () => {
  it('never share a file: each gets its own name, and no .partial is left', async () => {
    const root = testFolder('wb-concurrent');
    const { history, clock, db } = openTestHistory(root);
    const run = makeRunWithOneTargetInEachState(history, clock);
    // The same second for all: the file name's stamp is the same.
    const data = readRunReport(history, run.runId, { now: new Date('2026-03-02T09:00:00.000Z') })!;
    db.close();
    const reports = path.join(root, 'output', 'reports');
    const files = await Promise.all([1, 2, 3].map(() => writeRunWorkbook(data, reports)));
    expect(files.map((f) => path.basename(f)).sort()).toEqual([
      `hotfix_run${run.runId}_20260302_090000.xlsx`,
      `hotfix_run${run.runId}_20260302_090000_2.xlsx`,
      `hotfix_run${run.runId}_20260302_090000_3.xlsx`,
    ]);
    expect(readdirSync(reports).filter((f) => f.endsWith('.partial'))).toEqual([]);
    for (const file of files) expect((await readWorkbook(file)).worksheets.length).toBeGreaterThan(0);
  });

  it('passes over a .partial left by a writer that was killed', async () => {
    const root = testFolder('wb-leftover');
    const { history, clock, db } = openTestHistory(root);
    const run = makeRunWithOneTargetInEachState(history, clock);
    const data = readRunReport(history, run.runId, { now: new Date('2026-03-02T09:00:00.000Z') })!;
    db.close();
    const reports = path.join(root, 'output', 'reports');
    mkdirSync(reports, { recursive: true });
    writeFileSync(path.join(reports, `hotfix_run${run.runId}_20260302_090000.xlsx.partial`), 'half a file');
    const file = await writeRunWorkbook(data, reports);
    expect(path.basename(file)).toBe(`hotfix_run${run.runId}_20260302_090000_2.xlsx`);
  });
});
