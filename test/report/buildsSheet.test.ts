import path from 'node:path';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { readRunReport } from '../../src/report/runData.js';
import { BUILD_HEADERS, BUILDS_SHEET, writeRunWorkbook } from '../../src/report/workbook.js';
import { shippedCatalog } from '../catalog/shippedCatalog.js';
import { makeRunWithOneTargetInEachState, openTestHistory, testFolder } from './builders.js';

/* The workbook's Builds sheet: every target's build and target build, as the build catalog knows them. */

describe('Builds sheet', () => {
  it('shows each target’s build after the run and its target build, with release, KB, dates, CUs behind and retired', async () => {
    const root = testFolder('builds');
    const { history, clock, db } = openTestHistory(root);
    const run = makeRunWithOneTargetInEachState(history, clock);
    const data = readRunReport(history, run.runId, { now: new Date('2026-11-29T10:00:00Z') })!;
    db.close();
    const file = await writeRunWorkbook(data, path.join(root, 'output', 'reports'), shippedCatalog());
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(file);
    const ws = workbook.getWorksheet(BUILDS_SHEET)!;
    const header = (ws.getRow(1).values as unknown[]).slice(1).map(String);
    expect(header).toEqual([...BUILD_HEADERS]);
    const rows = new Map<string, Record<string, ExcelJS.CellValue>>();
    for (let n = 2; n <= ws.rowCount; n++) {
      const row = ws.getRow(n);
      const record = Object.fromEntries(header.map((h, i) => [h, row.getCell(i + 1).value ?? null]));
      rows.set(String(record.Server), record);
    }
    expect(rows.size).toBe(data.targets.length);
    // Patched to its target: the build after the run is the target build.
    expect(rows.get('SQL-OK')).toMatchObject({
      Build: '15.0.4395.2',
      release: 'SQL Server 2019 CU28 + GDR',
      KB: 'KB5046060',
      released: new Date('2024-10-08T00:00:00Z'),
      'end of support': new Date('2030-01-08T00:00:00Z'),
      'CUs behind': 4,
      'Newest CU of its level': 'SQL Server 2019 CU32 (KB5054833)',
      retired: 'No',
      'Target build': '15.0.4395.2',
      'Target release': 'SQL Server 2019 CU28 + GDR',
    });
    // Ended partial below its target: SP3's first GDR, on a level whose support has ended.
    expect(rows.get('SQL-PARTIAL')).toMatchObject({ Build: '13.0.6404.1', release: 'SQL Server 2016 SP3 GDR', KB: 'KB5006943', 'CUs behind': 0, 'Target KB': 'KB5040946' });
    // Never started: the build before the run.
    expect(rows.get('SQL-PENDING')).toMatchObject({ Build: '14.0.3421.10', release: 'SQL Server 2017 CU27', 'CUs behind': 4, 'Target release': 'SQL Server 2017 CU31', 'Target CUs behind': 0 });
    // Support that ended before the report's day is red.
    const partialRow = [...rows.keys()].indexOf('SQL-PARTIAL') + 2;
    const endOfSupport = ws.getRow(partialRow).getCell(header.indexOf('end of support') + 1);
    expect(endOfSupport.value).toEqual(new Date('2026-07-14T00:00:00Z'));
    expect((endOfSupport.fill as ExcelJS.FillPattern).fgColor?.argb).toBe('FFFFC7CE');
    expect(endOfSupport.numFmt).toBe('yyyy-mm-dd');
  });
});
