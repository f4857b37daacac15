import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Cell, CellValue, Workbook, Worksheet } from 'exceljs';
import { type RunStatus, type StepStatus, TARGET_STATUS, type TargetStatus } from '../store/states.js';
import type { BuildCatalog } from '../catalog/catalog.js';
import type { BuildFacts } from '../catalog/facts.js';
import { type BuildRow, buildRows } from './buildRows.js';
import { layOutForPrint } from './printLayout.js';
import type { HostRestart } from './restartData.js';
import type { RollingMove, RollingSequence } from './rollingData.js';
import { parseTime, type ReportStep, type ReportTarget, type RunReportData, type TrendCell, type TrendRow } from './runData.js';

/*
 * The run workbook: one sheet per view of a run (targets, steps, summary, trend across runs), laid
 * out for reading in Excel: frozen header, filters, widths, status colours, real dates.
 */

export const STEPS_SHEET = 'Steps';
export const SUMMARY_SHEET = 'Summary';
export const TREND_SHEET = 'Trend';
export const BUILDS_SHEET = 'Builds';

/** The sheet the specification names: `{Year} Hotfix Deployment`, the year the run started (UTC). */
export function deploymentSheetName(runStartedAt: Date): string {
  return `${runStartedAt.getUTCFullYear()} Hotfix Deployment`;
}

/** `hotfix_run<N>_<YYYYMMDD_HHMMSS>.xlsx`, stamped in UTC like the log files. */
export function reportFileName(runId: number, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  return `hotfix_run${runId}_${stamp}.xlsx`;
}

// ─── colours ───────────────────────────────────────────────────────────────────────────────────

interface Tone {
  readonly fill: string;
  readonly font: string;
}

// Excel's own Good / Neutral / Bad cell styles, so the colours read the way Excel users expect.
const GREEN: Tone = { fill: 'FFC6EFCE', font: 'FF006100' };
const AMBER: Tone = { fill: 'FFFFEB9C', font: 'FF9C5700' };
const RED: Tone = { fill: 'FFFFC7CE', font: 'FF9C0006' };
const GREY: Tone = { fill: 'FFE7E6E6', font: 'FF404040' };
const BLUE: Tone = { fill: 'FFDDEBF7', font: 'FF1F4E78' };
const HEADER: Tone = { fill: 'FF1F4E78', font: 'FFFFFFFF' };

// Keyed by the state constants' unions, so a new state fails to compile until it has a colour.
const TARGET_TONE = {
  success: GREEN,
  partial: AMBER,
  failed: RED,
  skipped: GREY,
  pending: BLUE,
  in_progress: BLUE,
} as const satisfies Record<TargetStatus, Tone>;

const STEP_TONE = {
  success: GREEN,
  failed: RED,
  skipped: GREY,
  pending: BLUE,
  running: BLUE,
  interrupted: AMBER,
} as const satisfies Record<StepStatus, Tone>;

const RUN_TONE = {
  succeeded: GREEN,
  failed: RED,
  interrupted: AMBER,
  running: BLUE,
} as const satisfies Record<RunStatus, Tone>;

/** The fill colour (ARGB) a target status gets, for tests and for anyone matching the workbook. */
export function targetStatusFill(status: TargetStatus): string {
  return TARGET_TONE[status].fill;
}

function paint(cell: Cell, tone: Tone, bold = false): void {
  cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: tone.fill } };
  cell.font = { color: { argb: tone.font }, bold };
}

// ─── formats ───────────────────────────────────────────────────────────────────────────────────

const DATE_FORMAT = 'yyyy-mm-dd hh:mm:ss';
// [h] keeps counting past 24 hours instead of wrapping to a new day.
const DURATION_FORMAT = '[h]:mm:ss';
const MS_PER_DAY = 86_400_000;
/** Column widths, in Excel's units (characters): a long-text column at most, a short-text column at most, any column at least. */
const MAX_WIDTH = 40;
const MAX_TEXT_WIDTH = 24;
const MIN_WIDTH = 6;
// Long enough for a Summary.txt's overall result and the lines around it, short enough to scan.
const OUTPUT_EXCERPT_LINES = 15;
const OUTPUT_EXCERPT_CHARS = 2_000;

// Excel refuses a workbook with a cell longer than 32,767 characters.
const MAX_CELL_TEXT = 32_000;

function fitCell(value: string | number | Date | null): CellValue {
  return typeof value === 'string' && value.length > MAX_CELL_TEXT ? `${value.slice(0, MAX_CELL_TEXT)}…` : value;
}

/** Excel durations are fractions of a day. */
function durationValue(ms: number | null): number | null {
  return ms === null ? null : ms / MS_PER_DAY;
}

function yesNo(value: boolean): string {
  return value ? 'Yes' : 'No';
}

/** The last lines of setup's output: the overall result is at the end of Summary.txt. */
export function outputExcerpt(output: string | null): string | null {
  if (output === null) return null;
  const lines = output.replace(/\r\n/g, '\n').trimEnd().split('\n');
  const tail = lines.slice(-OUTPUT_EXCERPT_LINES).join('\n');
  return tail.length > OUTPUT_EXCERPT_CHARS ? `…${tail.slice(-OUTPUT_EXCERPT_CHARS)}` : tail;
}

// ─── tables ────────────────────────────────────────────────────────────────────────────────────

type ColumnKind = 'text' | 'long' | 'number' | 'date' | 'duration' | 'day';

interface TableColumn<Row> {
  readonly header: string;
  readonly kind: ColumnKind;
  readonly value: (row: Row) => string | number | Date | null;
  /** A colour for the cell, e.g. by status. */
  readonly tone?: (row: Row) => Tone | null;
  /** The widest the column may be (characters); it is fitted to its content within that. */
  readonly width?: number;
}

const FIXED_WIDTH: Partial<Record<ColumnKind, number>> = { date: 20, duration: 11, day: 12 };
const DAY_FORMAT = 'yyyy-mm-dd';

/** Writes a header row and one row per item, then freezes the header and filters every column. */
function addTable<Row>(sheet: Worksheet, columns: readonly TableColumn<Row>[], rows: readonly Row[]): void {
  const header = sheet.addRow(columns.map((c) => c.header));
  header.eachCell((cell) => {
    paint(cell, HEADER, true);
    // Headers wrap at their spaces, so a column is as wide as its values, not its title.
    cell.alignment = { vertical: 'middle', wrapText: true };
  });
  for (const item of rows) {
    const row = sheet.addRow(columns.map((c) => fitCell(c.value(item))));
    columns.forEach((column, index) => {
      const cell = row.getCell(index + 1);
      if (column.kind === 'date') cell.numFmt = DATE_FORMAT;
      if (column.kind === 'duration') cell.numFmt = DURATION_FORMAT;
      if (column.kind === 'day') cell.numFmt = DAY_FORMAT;
      // Text wraps inside its cell when longer than the column's maximum width, never past it.
      if (column.kind === 'long' || column.kind === 'text') cell.alignment = { vertical: 'top', wrapText: true };
      else cell.alignment = { vertical: 'top' };
      const tone = column.tone?.(item);
      if (tone) paint(cell, tone);
    });
  }
  columns.forEach((column, index) => {
    sheet.getColumn(index + 1).width = FIXED_WIDTH[column.kind] ?? fittedWidth(column, rows);
  });
  sheet.views = [{ state: 'frozen', xSplit: 0, ySplit: 1, topLeftCell: 'A2', activeCell: 'A2' }];
  sheet.autoFilter = { from: { row: 1, column: 1 }, to: { row: Math.max(1, rows.length + 1), column: columns.length } };
}

/** As wide as the widest value (or the header's longest word), within the column's maximum. */
function fittedWidth<Row>(column: TableColumn<Row>, rows: readonly Row[]): number {
  // Room for the filter button beside the header's words.
  let widest = Math.max(...column.header.split(' ').map((word) => word.length)) + 3;
  for (const row of rows) {
    const value = column.value(row);
    if (value === null) continue;
    const text = value instanceof Date ? DATE_FORMAT : String(value);
    for (const line of text.split('\n')) widest = Math.max(widest, line.length + 1);
  }
  const maximum = column.width ?? (column.kind === 'long' ? MAX_WIDTH : MAX_TEXT_WIDTH);
  return Math.max(MIN_WIDTH, Math.min(maximum, widest));
}

// ─── sheets ────────────────────────────────────────────────────────────────────────────────────

const TARGET_COLUMNS: readonly TableColumn<ReportTarget>[] = [
  { header: 'Server', kind: 'text', value: (t) => t.server },
  { header: 'Instance', kind: 'text', value: (t) => t.instance },
  { header: 'Family', kind: 'text', value: (t) => t.family },
  { header: 'Edition', kind: 'text', value: (t) => t.edition },
  { header: 'Pre build', kind: 'text', value: (t) => t.preBuild },
  { header: 'Post build', kind: 'text', value: (t) => t.postBuild },
  { header: 'Target build', kind: 'text', value: (t) => t.targetBuild },
  { header: 'Status', kind: 'text', value: (t) => t.status, tone: (t) => TARGET_TONE[t.status] },
  { header: 'Restart required', kind: 'text', value: (t) => yesNo(t.restartRequired), tone: (t) => (t.restartRequired ? AMBER : null) },
  { header: 'Patched alongside', kind: 'text', value: (t) => yesNo(t.patchedAlongside), tone: (t) => (t.patchedAlongside ? AMBER : null) },
  { header: 'Started (UTC)', kind: 'date', value: (t) => t.startedAt },
  { header: 'Finished (UTC)', kind: 'date', value: (t) => t.finishedAt },
  { header: 'Duration', kind: 'duration', value: (t) => durationValue(t.durationMs) },
  { header: 'Error', kind: 'long', value: (t) => t.error, width: MAX_WIDTH },
];

export const RESTARTS_SHEET = 'Restarts';

const RESTART_OUTCOME: Readonly<Record<HostRestart['outcome'], string>> = {
  restarted: 'Restarted, back healthy',
  not_back: 'Did not come back',
  not_needed: 'Not needed',
  unfinished: 'Unfinished',
};

const RESTART_COLUMNS: readonly TableColumn<HostRestart>[] = [
  { header: 'Server', kind: 'text', value: (r) => r.server },
  { header: 'When', kind: 'text', value: (r) => (r.when === 'before' ? 'Before patching' : 'After patching') },
  { header: 'Outcome', kind: 'text', value: (r) => RESTART_OUTCOME[r.outcome] ?? r.outcome, tone: (r) => (r.outcome === 'not_back' ? RED : r.outcome === 'restarted' ? GREEN : null) },
  { header: 'Requested (UTC)', kind: 'date', value: (r) => parseTime(r.requestedAt) },
  { header: 'Back (UTC)', kind: 'date', value: (r) => parseTime(r.backAt) },
  { header: 'Time to come back', kind: 'duration', value: (r) => durationValue(r.backMs) },
  { header: 'Why', kind: 'long', value: (r) => r.reason, width: 40 },
  { header: 'Note', kind: 'long', value: (r) => r.note, width: MAX_WIDTH },
];

export const ROLLING_SHEET = 'Failovers';

/** One row per failover or role move; a group or FCI without any gets one row of its own. */
interface RollingRow {
  readonly sequence: RollingSequence;
  readonly move: RollingMove | null;
}

const ROLLING_OUTCOME: Readonly<Record<RollingSequence['outcome'], string>> = {
  completed: 'Completed',
  stopped: 'Stopped',
  unfinished: 'Unfinished',
  refused: 'Refused',
  up_to_date: 'Up to date',
};

const ROLLING_COLUMNS: readonly TableColumn<RollingRow>[] = [
  { header: 'Group or FCI', kind: 'text', value: (r) => r.sequence.name },
  { header: 'Kind', kind: 'text', value: (r) => (r.sequence.kind === 'availability_group' ? 'Availability group' : 'Failover cluster instance') },
  {
    header: 'Outcome',
    kind: 'text',
    value: (r) => ROLLING_OUTCOME[r.sequence.outcome] ?? r.sequence.outcome,
    tone: (r) => (r.sequence.outcome === 'completed' ? GREEN : r.sequence.outcome === 'stopped' || r.sequence.outcome === 'refused' ? RED : null),
  },
  { header: 'Primary / owner before', kind: 'text', value: (r) => r.sequence.before },
  { header: 'Primary / owner after', kind: 'text', value: (r) => r.sequence.after },
  { header: 'From', kind: 'text', value: (r) => r.move?.from ?? null },
  { header: 'To', kind: 'text', value: (r) => r.move?.to ?? null },
  { header: 'Why', kind: 'text', value: (r) => r.move?.why.replaceAll('_', ' ') ?? null },
  { header: 'When (UTC)', kind: 'date', value: (r) => parseTime(r.move?.at ?? null) },
  { header: 'Status', kind: 'text', value: (r) => r.move?.status ?? null, tone: (r) => (r.move && r.move.status !== 'success' ? RED : null) },
  {
    header: 'Failover modes restored',
    kind: 'long',
    value: (r) => (r.sequence.modes.length === 0 ? null : r.sequence.modes.map((m) => `${m.replica}: ${m.restored ? `restored (${m.original ?? '?'})` : 'NOT restored'}`).join('; ')),
    tone: (r) => (r.sequence.modes.some((m) => !m.restored) ? RED : null),
    width: 40,
  },
  { header: 'Note', kind: 'long', value: (r) => r.move?.note ?? r.sequence.reason, width: MAX_WIDTH },
];

function rollingRows(sequences: readonly RollingSequence[]): RollingRow[] {
  return sequences.flatMap((sequence): RollingRow[] => (sequence.moves.length === 0 ? [{ sequence, move: null }] : sequence.moves.map((move) => ({ sequence, move }))));
}

const STEP_COLUMNS: readonly TableColumn<ReportStep>[] = [
  { header: 'Server', kind: 'text', value: (s) => s.server },
  { header: 'Instance', kind: 'text', value: (s) => s.instance },
  // Installer names (SQLServer2019-KB5046859-x64.exe) have no space to wrap at: the column fits them.
  { header: 'Installer', kind: 'text', value: (s) => s.installer, width: 34 },
  { header: 'Order', kind: 'number', value: (s) => s.order },
  { header: 'Required', kind: 'text', value: (s) => yesNo(s.required) },
  { header: 'Status', kind: 'text', value: (s) => s.status, tone: (s) => STEP_TONE[s.status] },
  { header: 'Exit code', kind: 'number', value: (s) => s.exitCode },
  { header: 'Exit meaning', kind: 'long', value: (s) => s.exitMeaning, width: 16 },
  { header: 'Started (UTC)', kind: 'date', value: (s) => s.startedAt },
  { header: 'Finished (UTC)', kind: 'date', value: (s) => s.finishedAt },
  { header: 'Duration', kind: 'duration', value: (s) => durationValue(s.durationMs) },
  // Narrower than elsewhere: the steps sheet has the most columns to fit on one page's width.
  { header: 'Output excerpt', kind: 'long', value: (s) => outputExcerpt(s.output), width: 30 },
  { header: 'Error', kind: 'long', value: (s) => s.error, width: 30 },
];

export const TARGET_HEADERS: readonly string[] = TARGET_COLUMNS.map((c) => c.header);

// ─── builds (from the build catalog) ───────────────────────────────────────────────────────────

/** `2024-08-01` as an Excel date (midnight UTC), so the column sorts and filters as dates. */
function dayValue(text: string | null | undefined): Date | null {
  return text ? new Date(`${text}T00:00:00Z`) : null;
}

function releaseText(f: BuildFacts | null): string | null {
  if (!f) return null;
  return f.known ? f.name : `unknown: not in the build catalog${f.release ? ` (${f.release})` : ''}`;
}

function factColumns(prefix: string, pick: (r: BuildRow) => BuildFacts | null): TableColumn<BuildRow>[] {
  return [
    { header: `${prefix}release`, kind: 'text', value: (r) => releaseText(pick(r)), tone: (r) => (pick(r) && !pick(r)!.known ? AMBER : null) },
    { header: `${prefix}KB`, kind: 'text', value: (r) => pick(r)?.kb ?? null },
    { header: `${prefix}released`, kind: 'day', value: (r) => dayValue(pick(r)?.release_date) },
    { header: `${prefix}end of support`, kind: 'day', value: (r) => dayValue(pick(r)?.supported_until), tone: (r) => (pick(r)?.support_ended ? RED : null) },
    { header: `${prefix}CUs behind`, kind: 'number', value: (r) => pick(r)?.cus_behind ?? null, tone: (r) => ((pick(r)?.cus_behind ?? 0) > 0 ? AMBER : null) },
    { header: `${prefix}retired`, kind: 'text', value: (r) => (pick(r)?.known ? yesNo(pick(r)!.retired === true) : null), tone: (r) => (pick(r)?.retired ? RED : null) },
  ];
}

const BUILD_COLUMNS: readonly TableColumn<BuildRow>[] = [
  { header: 'Server', kind: 'text', value: (r) => r.server },
  { header: 'Instance', kind: 'text', value: (r) => r.instance },
  { header: 'Build', kind: 'text', value: (r) => r.build },
  ...factColumns('', (r) => r.current),
  { header: 'Newest CU of its level', kind: 'text', value: (r) => (r.current?.newest_cu ? `${r.current.newest_cu.name} (${r.current.newest_cu.kb ?? 'no KB'})` : null) },
  { header: 'Target build', kind: 'text', value: (r) => r.targetBuild },
  ...factColumns('Target ', (r) => r.target),
];

export const BUILD_HEADERS: readonly string[] = BUILD_COLUMNS.map((c) => c.header);
export const STEP_HEADERS: readonly string[] = STEP_COLUMNS.map((c) => c.header);

function addSummarySheet(workbook: Workbook, data: RunReportData): void {
  const sheet = workbook.addWorksheet(SUMMARY_SHEET, { views: [{ state: 'frozen', ySplit: 1 }] });
  const { run } = data;
  const title = sheet.addRow([`Hotfix run ${run.id}`]);
  title.font = { bold: true, size: 14 };

  const fields: [string, CellValue, Tone | null, string | null][] = [
    ['Run id', run.id, null, null],
    ['Parent run', run.parentRunId ?? '(none)', null, null],
    ['Mode', run.mode, null, null],
    ['Status', run.status, RUN_TONE[run.status], null],
    ['Exit code', run.exitCode, null, null],
    ['Started (UTC)', run.startedAt, null, DATE_FORMAT],
    ['Finished (UTC)', run.finishedAt ?? '(not finished)', null, DATE_FORMAT],
    ['Duration', durationValue(run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null), null, DURATION_FORMAT],
    ['Operator', run.operator, null, null],
    ['Host', run.host, null, null],
    ['Configuration', run.configPath, null, null],
    ['Report generated (UTC)', data.generatedAt, null, DATE_FORMAT],
  ];
  for (const [name, value] of Object.entries(run.options)) {
    fields.push([`Option: ${name}`, optionText(value), null, null]);
  }
  sheet.addRow([]);
  sectionTitle(sheet, 'Run');
  for (const [label, value, tone, numFmt] of fields) {
    const row = sheet.addRow([label, value]);
    row.getCell(1).font = { bold: true };
    const cell = row.getCell(2);
    cell.alignment = { horizontal: 'left', vertical: 'top', wrapText: true };
    if (numFmt) cell.numFmt = numFmt;
    if (tone) paint(cell, tone);
  }

  sheet.addRow([]);
  sectionTitle(sheet, 'Targets by status');
  headerRow(sheet, ['Status', 'Targets']);
  for (const status of TARGET_STATUS) {
    const row = sheet.addRow([status, data.countsByStatus[status]]);
    paint(row.getCell(1), TARGET_TONE[status]);
  }
  const total = sheet.addRow(['total', data.targets.length]);
  total.font = { bold: true };
  const restarts = data.targets.filter((t) => t.restartRequired).length;
  sheet.addRow(['restart required', restarts]);

  sheet.addRow([]);
  sectionTitle(sheet, 'Targets by family');
  const familyHeader = headerRow(sheet, ['Family', 'Targets', ...TARGET_STATUS]);
  TARGET_STATUS.forEach((status, index) => {
    paint(familyHeader.getCell(index + 3), TARGET_TONE[status], true);
  });
  for (const family of data.countsByFamily) {
    sheet.addRow([family.family ?? '(unknown)', family.total, ...TARGET_STATUS.map((s) => family.byStatus[s])]);
  }

  sheet.getColumn(1).width = 26;
  sheet.getColumn(2).width = Math.min(MAX_WIDTH, Math.max(16, ...fields.map(([, value]) => (typeof value === 'string' ? value.length + 2 : 0))));
  for (let column = 3; column <= TARGET_STATUS.length + 2; column++) sheet.getColumn(column).width = 12;
}

function optionText(value: unknown): CellValue {
  if (typeof value === 'string' || typeof value === 'number') return fitCell(value);
  if (typeof value === 'boolean') return yesNo(value);
  return fitCell(JSON.stringify(value) ?? null);
}

function sectionTitle(sheet: Worksheet, text: string): void {
  sheet.addRow([text]).font = { bold: true, size: 12 };
}

function headerRow(sheet: Worksheet, labels: readonly string[]) {
  const row = sheet.addRow([...labels]);
  row.eachCell((cell) => paint(cell, HEADER, true));
  return row;
}

function addTrendSheet(workbook: Workbook, data: RunReportData): void {
  const sheet = workbook.addWorksheet(TREND_SHEET);
  const { runs, rows } = data.trend;
  const columns: TableColumn<TrendRow>[] = [
    { header: 'Server', kind: 'text', value: (r) => r.server },
    { header: 'Instance', kind: 'text', value: (r) => r.instance },
    { header: 'Family', kind: 'text', value: (r) => r.family },
  ];
  runs.forEach((run, index) => {
    const cellOf = (r: TrendRow): TrendCell | null => r.cells[index] ?? null;
    const day = run.startedAt.toISOString().slice(0, 10);
    columns.push({
      header: `Run ${run.id} (${day}) build`,
      kind: 'text',
      value: (r) => cellOf(r)?.build ?? null,
      tone: (r) => {
        const cell = cellOf(r);
        return cell ? TARGET_TONE[cell.status] : null;
      },
    });
    columns.push({
      header: `Run ${run.id} at target`,
      kind: 'text',
      value: (r) => atTargetText(cellOf(r)),
      tone: (r) => atTargetTone(cellOf(r)),
    });
  });
  addTable(sheet, columns, rows);
  // Server and instance stay in view while scrolling across many runs.
  sheet.views = [{ state: 'frozen', xSplit: 2, ySplit: 1, topLeftCell: 'C2', activeCell: 'C2' }];
}

function atTargetText(cell: TrendCell | null): string | null {
  if (!cell) return null;
  if (cell.atTarget === null) return 'n/a';
  return yesNo(cell.atTarget);
}

function atTargetTone(cell: TrendCell | null): Tone | null {
  if (!cell) return null;
  if (cell.atTarget === null) return GREY;
  return cell.atTarget ? GREEN : RED;
}

/** Builds the workbook in memory; exceljs is loaded here, only when a report is asked for. */
export async function buildRunWorkbook(data: RunReportData, catalog?: BuildCatalog): Promise<Workbook> {
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'autodbaudit';
  workbook.created = data.generatedAt;
  workbook.title = `Hotfix run ${data.run.id}`;
  addTable(workbook.addWorksheet(deploymentSheetName(data.run.startedAt)), TARGET_COLUMNS, data.targets);
  addTable(workbook.addWorksheet(STEPS_SHEET), STEP_COLUMNS, data.steps);
  addSummarySheet(workbook, data);
  addTrendSheet(workbook, data);
  if (data.restarts.length > 0) addTable(workbook.addWorksheet(RESTARTS_SHEET), RESTART_COLUMNS, data.restarts);
  if (data.rolling && data.rolling.length > 0) addTable(workbook.addWorksheet(ROLLING_SHEET), ROLLING_COLUMNS, rollingRows(data.rolling));
  if (catalog) addTable(workbook.addWorksheet(BUILDS_SHEET), BUILD_COLUMNS, buildRows(data.targets, catalog, data.generatedAt.toISOString().slice(0, 10)));
  // Auditors print these: every sheet landscape, as wide as one page, header row repeated.
  for (const sheet of workbook.worksheets) layOutForPrint(sheet);
  return workbook;
}

/**
 * Writes the workbook to `<reportsDir>/hotfix_run<N>_<stamp>.xlsx` and returns its path. Written under
 * a temporary name and renamed, so a reader never opens half a file. Reports written at once (two
 * `--hotfix-report` in the same second, or beside a deployment's own) never share a name: each
 * claims its temporary file exclusively before writing.
 */
export async function writeRunWorkbook(data: RunReportData, reportsDir: string, catalog?: BuildCatalog): Promise<string> {
  mkdirSync(reportsDir, { recursive: true });
  const workbook = await buildRunWorkbook(data, catalog);
  const { file, partial } = claimReportName(reportsDir, reportFileName(data.run.id, data.generatedAt));
  try {
    await workbook.xlsx.writeFile(partial);
    renameSync(partial, file);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  return file;
}

/**
 * The first free name of `base`, `base_2`, … whose `.partial` this process could create (O_EXCL: only
 * one writer gets it). The final name is checked again once the partial is held: a writer that held
 * the same partial before has renamed it into place in one step, so its file is seen then.
 */
function claimReportName(reportsDir: string, base: string): { file: string; partial: string } {
  for (let n = 1; ; n++) {
    const file = path.join(reportsDir, n === 1 ? base : base.replace(/\.xlsx$/, `_${n}.xlsx`));
    if (existsSync(file)) continue;
    const partial = `${file}.partial`;
    try {
      closeSync(openSync(partial, 'wx'));
    } catch (error) {
      // Another writer holds this name (or one was killed while writing it): try the next.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    }
    if (!existsSync(file)) return { file, partial };
    rmSync(partial, { force: true });
  }
}
