import { classifyExitCode } from './setupExitCodes.js';

/**
 * SQL Server setup's own verdict on an execution, from the "Overall summary" block at the top of its
 * Summary.txt (the same layout from SQL Server 2008 to 2022):
 *
 *   Overall summary:
 *     Final result:                  Failed: see details below
 *     Exit code (Decimal):           -2068643838
 *     Exit message:                  There are no SQL Server instances or shared features that can be updated on this computer.
 *
 * Pure: the transports hand over the text, this reads it.
 */
export interface SetupSummary {
  /** `Passed`, `Passed but reboot required, see logs for details`, `Failed: see details below`, … */
  readonly finalResult: string | null;
  /** "Exit code (Decimal)" as setup wrote it. */
  readonly exitCode: number | null;
  readonly exitMessage: string | null;
}

export function parseSetupSummary(text: string): SetupSummary | null {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((line) => /^\s*Overall summary:\s*$/i.test(line));
  if (start < 0) return null;
  const fields = new Map<string, string>();
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    const match = /^\s+([^:]+?):\s*(.*?)\s*$/.exec(line);
    if (match) fields.set(match[1]!.toLowerCase(), match[2]!);
  }
  const code = fields.get('exit code (decimal)');
  const exitCode = code !== undefined && /^-?\d+$/.test(code) ? Number.parseInt(code, 10) : null;
  const finalResult = fields.get('final result') || null;
  if (finalResult === null && exitCode === null) return null;
  return { finalResult, exitCode, exitMessage: fields.get('exit message') || null };
}

/** Setup's summary calls the execution a failure. */
function summaryFailed(summary: SetupSummary): boolean {
  return summary.finalResult !== null && /^failed/i.test(summary.finalResult);
}

/** Where the process exit code and setup's Summary.txt tell different stories, what to say; null when they agree. */
export function summaryDisagreement(processExitCode: number, summary: SetupSummary): string | null {
  // The same code is the same verdict, even where this tool reads a code more kindly than setup's
  // wording does (-2068643838 "nothing to patch" is accepted here, "Failed" in the summary).
  if (summary.exitCode !== null) {
    if (summary.exitCode === processExitCode) return null;
  } else if ((classifyExitCode(processExitCode).outcome === 'failure') === summaryFailed(summary)) return null;
  const said = [summary.finalResult ? `Final result "${summary.finalResult}"` : null, summary.exitCode !== null ? `exit code ${summary.exitCode}` : null]
    .filter((part) => part !== null)
    .join(', ');
  return `setup's Summary.txt says ${said}, but the process exited ${processExitCode}`;
}
