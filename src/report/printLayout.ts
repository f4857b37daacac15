import type { Cell, Worksheet } from 'exceljs';

/*
 * How the workbook prints: auditors print these sheets. Every sheet landscape on A4, one page wide,
 * its header row on every page, page numbers in the footer; one font size for the whole workbook,
 * columns as wide as their content up to a maximum, long text wrapped inside its cell, and each row
 * as tall as its wrapped text (Excel and LibreOffice do not grow a row for wrapped text they did not
 * lay out themselves, so without a height a long message overlaps the rows below it when printed).
 */

/** Points: large enough to read on paper once a wide sheet is scaled to one page wide. */
export const FONT_SIZE = 10;
const FONT_NAME = 'Arial';
/** Points per line of FONT_SIZE text, with the gap between lines. */
const LINE_HEIGHT = 13;
/** Top and bottom padding of a row, in points. */
const ROW_PADDING = 3;
// Excel refuses rows taller than 409 points; a longer text is cut in print (it stays whole in the cell).
const MAX_ROW_HEIGHT = 409;
/**
 * Characters of FONT_SIZE text that fit in one unit of column width. A width unit is one "0" of the
 * default font; the fallback fonts of a machine without Arial (DejaVu Sans) are wider, so this errs
 * towards more lines: a row a little too tall reads well, one too short hides text.
 */
const CHARS_PER_WIDTH = 1.05;
/** How much of a line bold text takes compared with regular text, rounded up. */
const BOLD_WIDTH = 0.8;
/** Column width units of a date cell as `yyyy-mm-dd hh:mm:ss`. */
export const DATE_TEXT_WIDTH = 19;

const PAPER_A4 = 9;

/** The lines a text takes in a column `width` units wide when wrapped at spaces (long words are broken). */
export function wrappedLineCount(text: string, width: number): number {
  const perLine = Math.max(1, Math.floor(width * CHARS_PER_WIDTH));
  let lines = 0;
  for (const paragraph of text.split('\n')) {
    let used = 0;
    let count = 1;
    for (const word of paragraph.split(' ')) {
      // A word longer than the line is broken across lines, as Excel and LibreOffice do.
      let rest = word.length;
      const needed = used === 0 ? rest : used + 1 + rest;
      if (needed <= perLine) {
        used = needed;
        continue;
      }
      if (used > 0) count++;
      while (rest > perLine) {
        count++;
        rest -= perLine;
      }
      used = rest;
    }
    lines += count;
  }
  return lines;
}

function cellText(cell: Cell): string {
  const value = cell.value;
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return 'x'.repeat(DATE_TEXT_WIDTH);
  return String(value);
}

/** Gives every cell the workbook's font (keeping bold, colour and a larger size where set), and every row its height. */
function fitRows(sheet: Worksheet): void {
  sheet.eachRow({ includeEmpty: false }, (row) => {
    let height = 0;
    row.eachCell({ includeEmpty: false }, (cell) => {
      const size = cell.font?.size ?? FONT_SIZE;
      cell.font = { ...cell.font, name: FONT_NAME, size };
      const lineHeight = (LINE_HEIGHT * size) / FONT_SIZE;
      const wraps = cell.alignment?.wrapText === true;
      const width = sheet.getColumn(cell.col).width ?? 10;
      // Bold text (headers) is wider: fewer characters to a line.
      const usable = ((width * FONT_SIZE) / size) * (cell.font.bold ? BOLD_WIDTH : 1);
      const lines = wraps ? wrappedLineCount(cellText(cell), usable) : 1;
      height = Math.max(height, lines * lineHeight + ROW_PADDING);
    });
    if (height > 0) row.height = Math.min(MAX_ROW_HEIGHT, Math.ceil(height));
  });
}

/** Fonts, row heights and page setup for printing; called once a sheet's content and column widths are final. */
export function layOutForPrint(sheet: Worksheet): void {
  fitRows(sheet);
  sheet.pageSetup = {
    ...sheet.pageSetup,
    orientation: 'landscape',
    paperSize: PAPER_A4,
    fitToPage: true,
    fitToWidth: 1,
    fitToHeight: 0,
    printTitlesRow: '1:1',
    horizontalCentered: false,
    margins: { left: 0.4, right: 0.4, top: 0.5, bottom: 0.6, header: 0.3, footer: 0.3 },
  };
  // The sheet's name and page k of n on every page: loose pages can be put back in order.
  sheet.headerFooter = { ...sheet.headerFooter, oddFooter: '&L&A&RPage &P of &N' };
}
