import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CancelledError, RemoteOperationError } from '../../src/errors.js';
import {
  interpretOutcome,
  type PowerShellRunOptions,
  powershellArguments,
  runOperationLocally,
  runPowerShellScript,
} from '../../src/remote/powershell/localPowerShell.js';
import { PowerShellOperationError } from '../../src/remote/powershell/operationOutput.js';
import { processesWith } from './processes.js';
import { requirePwsh } from './pwsh.js';

const pwsh = requirePwsh();
const work = mkdtempSync(join(tmpdir(), 'local-powershell-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const options = { executable: pwsh, server: 'SQL-LOCAL', timeoutMs: 30_000 } as const;

/** Runs a hand-written script the way operations run, and reads it as the probe operation. */
async function runScript(body: string, overrides: Partial<PowerShellRunOptions> = {}) {
  const outcome = await runPowerShellScript(`param([string]$EncodedArguments)\n${body}\n`, 'e30=', {
    ...options,
    operation: 'probe',
    ...overrides,
  });
  return interpretOutcome('probe', outcome, 'SQL-LOCAL');
}

const VALID_PROBE = `'{"ok":true,"result":{"echo":null,"computerName":"x","powershellVersion":"7","powershellEdition":"Core"}}'`;

describe.concurrent('a local PowerShell running one operation', () => {
  it('receives the script and its arguments on stdin and returns the one JSON object it prints', async () => {
    const echo = { text: 'a "quoted" $value; `tick`', list: [1, null, true, 'é'], nested: { empty: [] } };
    const result = await runOperationLocally('probe', { echo }, options);
    expect(result.echo).toEqual(echo);
    expect(result.powershellEdition).toBe('Core');
    // Nothing of the script or its arguments is on the command line.
    expect(powershellArguments().join(' ')).not.toContain('tick');
  });

  it("reports the operation's error object as a PowerShellOperationError naming server and operation", async () => {
    const failure = await runOperationLocally('stagedFile', { stagingDir: work, fileName: '../escape.exe' }, options).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PowerShellOperationError);
    expect(failure).toBeInstanceOf(RemoteOperationError);
    expect((failure as PowerShellOperationError).message).toBe(
      'SQL-LOCAL: stagedFile failed: installer file name "../escape.exe" is not a plain file name (InvalidArguments)',
    );
    expect((failure as PowerShellOperationError).remote.type).toBe('InvalidArguments');
  });

  it('stops PowerShell and everything it started when the timeout passes', async () => {
    const marker = `301.${process.pid}${Date.now() % 1000}`;
    const started = Date.now();
    await expect(runScript(`& /bin/sleep ${marker}`, { timeoutMs: 1500 })).rejects.toThrow(
      'SQL-LOCAL: probe failed: PowerShell did not finish within 1.5 s and was stopped',
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(processesWith(marker)).toEqual([]);
  });

  it('reports a PowerShell that crashed', async () => {
    // The dotnet tool's pwsh is a launcher that reports its child's SIGKILL as exit code 137.
    await expect(runScript('Stop-Process -Id $PID -Force')).rejects.toThrow(
      /^SQL-LOCAL: probe failed: PowerShell (was killed by SIGKILL|exited with code 137)/,
    );
  });

  it('reports a non-zero exit with what the process wrote', async () => {
    await expect(runScript("[Console]::Error.WriteLine('cannot load module'); exit 3")).rejects.toThrow(
      /^SQL-LOCAL: probe failed: PowerShell exited with code 3; stderr: "cannot load module"$/,
    );
  });

  it('prefers the error object when a failing process printed one', async () => {
    const failure = await runScript(`'{"ok":false,"error":{"message":"disk full","type":"IOException","position":null}}'; exit 5`).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(PowerShellOperationError);
    expect((failure as Error).message).toBe('SQL-LOCAL: probe failed: disk full (IOException)');
  });

  it('rejects anything on stdout besides the one JSON object', async () => {
    await expect(runScript(`'a banner from a profile'\n${VALID_PROBE}`)).rejects.toThrow(
      'SQL-LOCAL: probe failed: the operation printed something other than one JSON object: "a banner from a profile {',
    );
  });

  it('rejects an empty output, a non-envelope and a result of the wrong shape', async () => {
    await expect(runScript('$null = 1')).rejects.toThrow('the operation printed nothing');
    await expect(runScript(`'{"result":1}'`)).rejects.toThrow('is not a result envelope');
    await expect(runScript(`'{"ok":true,"result":{"echo":1}}'`)).rejects.toThrow('returned a result of an unexpected shape');
  });

  it('ignores stderr when stdout holds the result', async () => {
    const result = await runScript(`[Console]::Error.WriteLine('a warning'); ${VALID_PROBE}`);
    expect(result.computerName).toBe('x');
  });

  it('says when PowerShell is not installed', async () => {
    await expect(runOperationLocally('probe', {}, { ...options, executable: join(work, 'no-such-pwsh') })).rejects.toThrow(
      /PowerShell ".*no-such-pwsh" was not found: install PowerShell \(pwsh\) or set hotfix.winrm.powershell_path/,
    );
  });

  it('stops on abort', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    await expect(runScript('Start-Sleep -Seconds 30', { signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
  });
});
