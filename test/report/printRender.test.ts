import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRunReport, type ReportStep, type ReportTarget } from '../../src/report/runData.js';
import { deploymentSheetName, writeRunWorkbook } from '../../src/report/workbook.js';
import { makeRunWithOneTargetInEachState, openTestHistory, testFolder } from './builders.js';

/*
 * The workbook as it prints: rendered by LibreOffice (headless) to PDF and read back with poppler's
 * pdfinfo and pdftotext, not only by reading its cells. Needs `soffice`, `pdfinfo` and `pdftotext`
 * (.ci/run installs libreoffice-calc-nogui and poppler-utils).
 */

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
}
const TOOLS = has('soffice') && has('pdfinfo') && has('pdftotext');

interface Word {
  readonly text: string;
  readonly page: number;
  readonly xMin: number;
  readonly yMin: number;
  readonly xMax: number;
  readonly yMax: number;
}

/** Every word of the PDF with its box (points), from `pdftotext -bbox`. */
function words(pdf: string): { pages: { width: number; height: number }[]; words: Word[] } {
  const html = execFileSync('pdftotext', ['-bbox', pdf, '-'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const pages: { width: number; height: number }[] = [];
  const found: Word[] = [];
  for (const part of html.split('<page ').slice(1)) {
    const size = /width="([\d.]+)" height="([\d.]+)"/.exec(part)!;
    pages.push({ width: Number(size[1]), height: Number(size[2]) });
    for (const m of part.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<\/word>/g)) {
      found.push({ page: pages.length, xMin: Number(m[1]), yMin: Number(m[2]), xMax: Number(m[3]), yMax: Number(m[4]), text: m[5]! });
    }
  }
  return { pages, words: found };
}

/** Text of one page, in reading order. */
function pageText(pdf: string, page: number): string {
  return execFileSync('pdftotext', ['-layout', '-f', String(page), '-l', String(page), pdf, '-'], { encoding: 'utf8' });
}

function overlap(a: Word, b: Word): number {
  const x = Math.min(a.xMax, b.xMax) - Math.max(a.xMin, b.xMin);
  const y = Math.min(a.yMax, b.yMax) - Math.max(a.yMin, b.yMin);
  return x > 0 && y > 0 ? Math.min(x, y) : 0;
}

/** A failure message as long as setup's real ones, ending in a marker that shows it printed whole. */
function longError(n: number): string {
  return (
    `SQL${n} (MSSQLSERVER): SQLServer2019-KB5046859-x64.exe exited 1603 (fatal error during installation (ERROR_INSTALL_FAILURE)); ` +
    `see C:\\Program Files\\Microsoft SQL Server\\150\\Setup Bootstrap\\Log\\20261205_091500\\Summary_SQL${n}_20261205_091500.txt; ` +
    `the instance was left at its build; fix the cause and run --deploy-hotfixes --retry-failed END${n}END`
  );
}

describe.skipIf(!TOOLS)('the workbook, printed (LibreOffice headless → PDF)', () => {
  it('prints landscape, one page wide, header row on every page, a readable size, wrapped text whole and nothing overlapping', { timeout: 300_000 }, async () => {
    const root = testFolder('wb-print');
    const { history, clock, db } = openTestHistory(root);
    const run = makeRunWithOneTargetInEachState(history, clock);
    const base = readRunReport(history, run.runId, { now: new Date('2026-03-02T09:00:00.000Z') })!;
    db.close();
    // 60 targets, each failed with a long message: several pages of the deployment sheet.
    const targets: ReportTarget[] = Array.from({ length: 60 }, (_, i) => ({
      ...base.targets[i % base.targets.length]!,
      server: `SQL${i}`,
      status: 'failed',
      error: longError(i),
    }));
    const steps: ReportStep[] = base.steps.map((s, i) => ({ ...s, error: longError(1000 + i) }));
    const file = await writeRunWorkbook({ ...base, targets, steps }, path.join(root, 'output', 'reports'));

    const out = mkdtempSync(path.join(tmpdir(), 'ada-print-'));
    const profile = mkdtempSync(path.join(tmpdir(), 'ada-lo-profile-'));
    try {
      // A private profile: a LibreOffice already open for the user (or another test) does not take the job.
      const converted = spawnSync('soffice', [`-env:UserInstallation=file://${profile}`, '--headless', '--convert-to', 'pdf', '--outdir', out, file], {
        encoding: 'utf8',
        timeout: 240_000,
      });
      const pdf = path.join(out, path.basename(file).replace(/\.xlsx$/, '.pdf'));
      expect(existsSync(pdf), `${converted.stdout}\n${converted.stderr}`).toBe(true);

      if (process.env.KEEP_PDF) execFileSync("cp", [pdf, process.env.KEEP_PDF]);
      const { pages, words: all } = words(pdf);
      // Landscape A4 on every page.
      for (const page of pages) expect([Math.round(page.width), Math.round(page.height)]).toEqual([842, 595]);

      // The deployment sheet: one page wide, so its pages are those up to the Steps sheet's first.
      const sheetPages = pages.map((_, i) => pageText(pdf, i + 1));
      const deployment = sheetPages.map((text, i) => ({ text, page: i + 1 })).filter((p) => p.text.includes(deploymentSheetName(base.run.startedAt)));
      expect(deployment.length).toBeGreaterThanOrEqual(3);
      // Not split across pages sideways: a page count near what 60 rows need, and each page names its place.
      expect(deployment.length).toBeLessThanOrEqual(15);
      expect(pages.length).toBeLessThanOrEqual(40);
      for (const { text, page } of deployment) {
        expect(text, `page ${page}`).toMatch(new RegExp(`Page ${page} of ${pages.length}`));
        // The header row, repeated at the top of every page.
        const firstLines = text.split('\n').filter((l) => l.trim() !== '').slice(0, 3).join(' ');
        expect(firstLines, `page ${page}`).toMatch(/Server\s+Instance\s+Family/);
      }

      // Every long message printed whole: its end is on the page, not cut at the edge.
      const printed = new Set(all.map((w) => w.text));
      for (let i = 0; i < targets.length; i++) expect(printed.has(`END${i}END`), `END${i}END`).toBe(true);
      for (let i = 0; i < steps.length; i++) expect(printed.has(`END${1000 + i}END`), `END${1000 + i}END`).toBe(true);
      // Nothing printed past the page's edge.
      for (const w of all) expect(w.xMax, w.text).toBeLessThanOrEqual(pages[w.page - 1]!.width);

      // Readable: the body text is at least 6.5 points high once scaled to the page.
      for (let page = 1; page <= pages.length; page++) {
        const heights = all.filter((w) => w.page === page).map((w) => w.yMax - w.yMin).sort((a, b) => a - b);
        expect(heights[Math.floor(heights.length / 2)], `page ${page}: ${sheetPages[page - 1]!.trim().split("\n").at(-1)}`).toBeGreaterThanOrEqual(6.5);
      }

      // Rows as tall as their wrapped text: no word printed over another.
      for (let page = 1; page <= pages.length; page++) {
        const onPage = all.filter((w) => w.page === page);
        for (let a = 0; a < onPage.length; a++) {
          for (let b = a + 1; b < onPage.length; b++) {
            // Lines of one cell touch (a word's box holds its ascent and descent); text over text does more.
            const limit = 0.3 * Math.min(onPage[a]!.yMax - onPage[a]!.yMin, onPage[b]!.yMax - onPage[b]!.yMin);
            expect(overlap(onPage[a]!, onPage[b]!), `page ${page}: "${onPage[a]!.text}" over "${onPage[b]!.text}"`).toBeLessThan(limit);
          }
        }
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
