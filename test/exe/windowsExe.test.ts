import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from '../../src/store/sqlite.js';
import { type CliResult, runCli } from '../helpers/runCli.js';

/*
 * AutoDBAudit.exe, built by scripts/buildExe.mjs, run under Wine (Debian's wine package; .ci/run
 * installs it) against the example lab, and compared with the same commands under Node on Linux.
 *
 * The Windows side is laid out as an operator would: C:\AutoDBAudit\AutoDBAudit.exe with its config
 * folder next to it (C:\ is the Wine prefix's drive_c), started from another folder. The 2022
 * installer comes from a UNC share, \\fileserver\patches, which Wine maps to
 * <prefix>/dosdevices/unc/fileserver/patches. One Wine prefix and one deployment keep it lean.
 */

const WINE = (process.env.PATH ?? '')
  .split(path.delimiter)
  .map((dir) => path.join(dir, 'wine'))
  .find((file) => existsSync(file));
if (!WINE && process.env.AUTODBAUDIT_SKIP_WINE !== '1') {
  throw new Error(
    'wine is not installed, so AutoDBAudit.exe cannot be run: bash .ci/run installs it ' +
      '(apt-get install --no-install-recommends wine wine64); AUTODBAUDIT_SKIP_WINE=1 skips these tests on a machine without it',
  );
}
if (!WINE) console.warn('\n*** AUTODBAUDIT_SKIP_WINE=1: the AutoDBAudit.exe tests under Wine are SKIPPED ***\n');

const EXAMPLE = path.resolve('test/fixtures/standalone-lab');
const WINDOWS_ROOT = 'C:\\AutoDBAudit';
const UNC_SHARE = '\\\\fileserver\\patches';
const SHARE_FAMILY = '2022';

let work: string;
let prefix: string;
let windowsRoot: string;
let linuxRoot: string;
let exeBuild: { code: number | null; output: string };

/** The exe run under Wine: stdout and stderr go to files (Windows Node.js under Wine cannot write to a pipe). */
function runExe(args: readonly string[]): CliResult {
  const out = path.join(work, 'exe.stdout');
  const err = path.join(work, 'exe.stderr');
  const stdout = openSync(out, 'w');
  const stderr = openSync(err, 'w');
  try {
    const result = spawnSync(WINE!, [`${WINDOWS_ROOT}\\AutoDBAudit.exe`, ...args], {
      // Another folder than the exe's: the config next to the exe must be found from anywhere.
      cwd: work,
      env: wineEnvironment(),
      stdio: ['ignore', stdout, stderr],
      timeout: 600_000,
    });
    return { code: result.status ?? -1, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
  } finally {
    closeSync(stdout);
    closeSync(stderr);
  }
}

function wineEnvironment(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WINEPREFIX: prefix,
    WINEDEBUG: '-all',
    // Wine reports a Windows version Node.js would refuse at start.
    NODE_SKIP_PLATFORM_CHECK: '1',
    // No Mono or Gecko: nothing here needs .NET or HTML, and asking for them slows the prefix's creation.
    WINEDLLOVERRIDES: 'mscoree=d;mshtml=d',
  };
}

/** A Windows path of the Wine prefix (C:\… or \\fileserver\patches\…) as a Linux path. */
function linuxPathOf(windowsPath: string): string {
  const unc = /^\\\\([^\\]+)\\(.*)$/.exec(windowsPath);
  if (unc) return path.join(prefix, 'dosdevices', 'unc', unc[1]!.toLowerCase(), ...unc[2]!.split('\\'));
  const drive = /^([A-Za-z]):\\(.*)$/.exec(windowsPath);
  if (!drive) throw new Error(`not a Windows path: ${windowsPath}`);
  return path.join(prefix, 'dosdevices', `${drive[1]!.toLowerCase()}:`, ...drive[2]!.split('\\'));
}

/** Paths under either root, in either form, as `<root>/…`; and the times a plan is asked at dropped. */
function comparable(value: unknown, roots: readonly string[]): unknown {
  if (typeof value === 'string') {
    let text = value;
    for (const root of roots) if (text.includes(root)) text = text.split(root).join('<root>').replace(/\\/g, '/');
    return text;
  }
  if (Array.isArray(value)) return value.map((v) => comparable(v, roots));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => key !== 'starts_at' && key !== 'expected_end')
        .map(([key, v]) => [key, comparable(v, roots)]),
    );
  }
  return value;
}

interface Outcome {
  targets: { server: string; instance: string; status: string; pre_build: string | null; post_build: string | null }[];
  steps: { server: string; instance: string; installer_file: string; installer_path: string; status: string; exit_code: number | null }[];
  runs: { id: number; status: string; exit_code: number | null }[];
}

function outcome(historyDb: string): Outcome {
  const db = new Database(historyDb, { readonly: true });
  try {
    return {
      runs: db.prepare('SELECT id, status, exit_code FROM hotfix_runs ORDER BY id').all() as Outcome['runs'],
      targets: db.prepare('SELECT server, instance, status, pre_build, post_build FROM hotfix_targets ORDER BY server, instance').all() as Outcome['targets'],
      steps: db
        .prepare(
          `SELECT t.server, t.instance, s.installer_file, s.installer_path, s.status, s.exit_code
           FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id ORDER BY t.server, t.instance, s.step_order`,
        )
        .all() as Outcome['steps'],
    };
  } finally {
    db.close();
  }
}

/** Each sheet's name (the first one is named after the run's date) and the cells that do not hold times. */
async function workbookContent(file: string): Promise<{ sheets: string[]; deployment: unknown[][] }> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.readFile(file);
  const [deployment, ...others] = workbook.worksheets;
  const rows: unknown[][] = [];
  // Server, instance, family, edition, build before, after, target, status.
  for (let n = 1; n <= deployment!.rowCount; n++) rows.push((deployment!.getRow(n).values as unknown[]).slice(1, 9));
  return { sheets: others.map((sheet) => sheet.name), deployment: rows };
}

function writeWindowsTree(): void {
  mkdirSync(windowsRoot, { recursive: true });
  for (const dir of ['config', 'hotfixes']) cpSync(path.join(EXAMPLE, dir), path.join(windowsRoot, dir), { recursive: true });
  // The 2022 installer moves to the UNC share; the mapping names it there.
  const share = path.join(work, 'fileserver-patches');
  cpSync(path.join(EXAMPLE, 'hotfixes', SHARE_FAMILY), path.join(share, SHARE_FAMILY), { recursive: true });
  rmSync(path.join(windowsRoot, 'hotfixes', SHARE_FAMILY), { recursive: true });
  mkdirSync(path.join(prefix, 'dosdevices', 'unc', 'fileserver'), { recursive: true });
  symlinkSync(share, path.join(prefix, 'dosdevices', 'unc', 'fileserver', 'patches'));
  const mappingFile = path.join(windowsRoot, 'config', 'hotfix_mapping.json');
  const mapping = JSON.parse(readFileSync(mappingFile, 'utf8')) as { mappings: { version_family: string; files: { path: string }[] }[] };
  for (const entry of mapping.mappings) {
    if (entry.version_family !== SHARE_FAMILY) continue;
    for (const file of entry.files) file.path = `${UNC_SHARE}\\${SHARE_FAMILY}\\`;
  }
  writeFileSync(mappingFile, `${JSON.stringify(mapping, null, 2)}\n`);
}

describe.skipIf(!WINE)('AutoDBAudit.exe under Wine, compared with Node.js on Linux', () => {
  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'ada-exe-'));
    prefix = path.join(work, 'wineprefix');
    const build = spawnSync(process.execPath, ['scripts/buildExe.mjs', '--out-dir', path.join(work, 'exe')], { encoding: 'utf8', timeout: 900_000 });
    exeBuild = { code: build.status, output: `${build.stdout}${build.stderr}` };
    if (build.status !== 0) return;
    // The first start of Wine creates the prefix (C:\ among it); the exe goes there afterwards.
    const boot = spawnSync('wineboot', ['--init'], { env: wineEnvironment(), stdio: 'ignore', timeout: 600_000 });
    if (boot.status !== 0) throw new Error(`wineboot --init failed (exit ${boot.status}) for prefix ${prefix}`);
    windowsRoot = linuxPathOf(WINDOWS_ROOT);
    writeWindowsTree();
    copyFileSync(path.join(work, 'exe', 'AutoDBAudit.exe'), path.join(windowsRoot, 'AutoDBAudit.exe'));
    linuxRoot = path.join(work, 'linux');
    for (const dir of ['config', 'hotfixes']) cpSync(path.join(EXAMPLE, dir), path.join(linuxRoot, dir), { recursive: true });
  }, 1_500_000);

  afterAll(() => {
    if (!prefix) return;
    // Wine leaves a wineserver running for a few seconds after its last program: stop this prefix's own.
    spawnSync('wineserver', ['-k'], { env: wineEnvironment(), stdio: 'ignore', timeout: 60_000 });
    rmSync(work, { recursive: true, force: true });
  });

  it('npm run build:exe makes a Windows x64 executable from the pinned Node.js', () => {
    expect(exeBuild.code, exeBuild.output).toBe(0);
    const exe = readFileSync(path.join(work, 'exe', 'AutoDBAudit.exe'));
    expect(exe.toString('latin1', 0, 2)).toBe('MZ');
    const header = exe.readUInt32LE(0x3c);
    expect(exe.readUInt16LE(header + 4)).toBe(0x8664); // IMAGE_FILE_MACHINE_AMD64
    // node.exe's own signature was removed before injecting (the organisation signs the result).
    expect(exe.readUInt32LE(header + 24 + 112 + 4 * 8 + 4)).toBe(0);
    expect(exeBuild.output).toMatch(/AutoDBAudit\.exe: \d+\.\d MB \(Node\.js 22\.\d+\.\d+ for Windows x64/);
  });

  it('--hotfix-plan --offline --json: the same plan as on Linux, from the config folder next to the exe', { timeout: 600_000 }, () => {
    const windows = runExe(['--hotfix-plan', '--offline', '--json']);
    expect(windows.code, windows.stderr).toBe(0);
    expect(windows.stderr).not.toMatch(/ExperimentalWarning|experimental feature/);
    const linux = runCli(['--hotfix-plan', '--offline', '--json', '--config', path.join(linuxRoot, 'config', 'audit_config.json')]);
    expect(linux.code, linux.stderr).toBe(0);

    const windowsPlan = JSON.parse(windows.stdout) as { targets: { steps: { path: string }[] }[] };
    const stepPaths = windowsPlan.targets.flatMap((t) => t.steps.map((s) => s.path));
    // Windows paths for real: the exe's folder on C:, and the UNC share.
    expect(stepPaths).toContain(`${WINDOWS_ROOT}\\hotfixes\\2019\\SQLServer2019-KB5046859-x64.exe`);
    expect(stepPaths).toContain(`${UNC_SHARE}\\2022\\SQLServer2022-KB5048038-x64.exe`);
    expect(comparable(windowsPlan, [`${UNC_SHARE}\\`, `${WINDOWS_ROOT}\\hotfixes\\`, `${WINDOWS_ROOT}\\`])).toEqual(
      comparable(JSON.parse(linux.stdout), [`${linuxRoot}/hotfixes/`, `${linuxRoot}/`]),
    );
  });

  it('a whole lab deployment, --hotfix-history and --hotfix-report: the same outcome as on Linux', { timeout: 900_000 }, async () => {
    const windows = runExe(['--deploy-hotfixes', '--yes', '--config', `${WINDOWS_ROOT}\\config\\audit_config.json`]);
    const linux = runCli(['--deploy-hotfixes', '--yes', '--config', path.join(linuxRoot, 'config', 'audit_config.json')]);
    // The example fleet fails some targets on purpose.
    expect(linux.code, linux.stderr).toBe(1);
    expect(windows.code, `${windows.stdout}\n${windows.stderr}`).toBe(1);
    expect(windows.stdout).toContain(`History: run 1 in ${WINDOWS_ROOT}\\output\\history.db`);

    const windowsOutcome = outcome(path.join(windowsRoot, 'output', 'history.db'));
    const linuxOutcome = outcome(path.join(linuxRoot, 'output', 'history.db'));
    expect(windowsOutcome.runs).toEqual(linuxOutcome.runs);
    expect(windowsOutcome.targets).toEqual(linuxOutcome.targets);
    const withoutPaths = (o: Outcome) => o.steps.map(({ installer_path: _, ...step }) => step);
    expect(withoutPaths(windowsOutcome)).toEqual(withoutPaths(linuxOutcome));
    expect(new Set(windowsOutcome.targets.map((t) => t.status))).toEqual(new Set(['success', 'failed', 'skipped', 'partial']));
    // The 2022 target was patched from the UNC share.
    const fromShare = windowsOutcome.steps.filter((s) => s.installer_path.startsWith(`${UNC_SHARE}\\`));
    expect(fromShare.map((s) => s.status)).toContain('success');

    const history = runExe(['--hotfix-history', '--json']);
    expect(history.code, history.stderr).toBe(0);
    const linuxHistory = runCli(['--hotfix-history', '--json', '--config', path.join(linuxRoot, 'config', 'audit_config.json')]);
    const runsOf = (text: string) =>
      (JSON.parse(text) as { runs: { id: number; status: string; exit_code: number; targets: unknown }[] }).runs.map(({ id, status, exit_code, targets }) => ({
        id,
        status,
        exit_code,
        targets,
      }));
    expect(runsOf(history.stdout)).toEqual(runsOf(linuxHistory.stdout));

    const report = runExe(['--hotfix-report', '--json']);
    expect(report.code, report.stderr).toBe(0);
    const reportPath = (JSON.parse(report.stdout) as { report: string }).report;
    expect(reportPath.startsWith(`${WINDOWS_ROOT}\\output\\reports\\`)).toBe(true);
    const linuxReport = runCli(['--hotfix-report', '--json', '--config', path.join(linuxRoot, 'config', 'audit_config.json')]);
    const windowsBook = await workbookContent(linuxPathOf(reportPath));
    const linuxBook = await workbookContent((JSON.parse(linuxReport.stdout) as { report: string }).report);
    expect(windowsBook).toEqual(linuxBook);
    expect(windowsBook.deployment.length).toBe(windowsOutcome.targets.length + 1);
  });
});
