import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSetupSummary, summaryDisagreement } from '../../src/sqlserver/setupSummary.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const powershellFixture = (name: string) => readFileSync(new URL(`../powershell/fixtures/SetupBootstrap/Log/${name}`, import.meta.url), 'utf8');

describe("setup's Summary.txt", () => {
  it.each([
    ['Summary_2016_nothing_to_patch.txt', 'Failed: see details below', -2068643838, 'There are no SQL Server instances or shared features that can be updated on this computer.'],
    ['Summary_2017_restart_pending.txt', 'Failed: see details below', -2067919934, 'A computer restart is required. You must restart this computer before installing SQL Server.'],
    ['Summary_2022_passed.txt', 'Passed', 0, null],
  ])('%s: reads the overall summary, not an instance block', (name, finalResult, exitCode, exitMessage) => {
    expect(parseSetupSummary(fixture(name))).toEqual({ finalResult, exitCode, exitMessage });
  });

  it('reads a 2019 summary with Windows line ends', () => {
    const text = powershellFixture('Summary.txt').replace(/\n/g, '\r\n');
    expect(parseSetupSummary(text)).toEqual({ finalResult: 'Passed but reboot required, see logs for details', exitCode: 3010, exitMessage: null });
  });

  it('finds no verdict in a GlobalRules file', () => {
    expect(parseSetupSummary(fixture('Summary_2019_GlobalRules.txt'))).toBeNull();
  });

  it('says where the process exit code and the summary disagree, and nothing where they agree', () => {
    const passed = parseSetupSummary(fixture('Summary_2022_passed.txt'))!;
    const failed = parseSetupSummary(fixture('Summary_2016_nothing_to_patch.txt'))!;
    expect(summaryDisagreement(0, passed)).toBeNull();
    expect(summaryDisagreement(-2068643838, failed)).toBeNull();
    expect(summaryDisagreement(1603, passed)).toBe(`setup's Summary.txt says Final result "Passed", exit code 0, but the process exited 1603`);
    expect(summaryDisagreement(0, { finalResult: 'Failed: see details below', exitCode: null, exitMessage: null })).toBe(
      `setup's Summary.txt says Final result "Failed: see details below", but the process exited 0`,
    );
  });
});
