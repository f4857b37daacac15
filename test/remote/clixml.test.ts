import { describe, expect, it } from 'vitest';
import { interpretOutcome } from '../../src/remote/powershell/localPowerShell.js';
import { readableStderr } from '../../src/remote/powershell/clixml.js';

// What powershell.exe -NonInteractive writes to stderr when started by another program.
const CLIXML =
  '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV></PR></MS></Obj>' +
  '<S S="Error">New-Item : Access to the path &apos;C:\\ProgramData\\AutoDBAudit\\staging&apos; is denied._x000D__x000A_</S>' +
  '<S S="Error">At line:1 char:1_x000D__x000A_</S><S S="Error">+ CategoryInfo          : PermissionDenied: (C:\\ProgramData\\...&lt;staging&gt;:String) [New-Item], UnauthorizedAccessException_x000D__x000A_</S></Objs>';

describe('PowerShell error text written as CLIXML on stderr', () => {
  it('reads as the plain lines PowerShell meant', () => {
    expect(readableStderr(CLIXML)).toBe(
      [
        "New-Item : Access to the path 'C:\\ProgramData\\AutoDBAudit\\staging' is denied.",
        'At line:1 char:1',
        '+ CategoryInfo          : PermissionDenied: (C:\\ProgramData\\...<staging>:String) [New-Item], UnauthorizedAccessException',
      ].join('\n'),
    );
    expect(readableStderr('plain text\n')).toBe('plain text\n');
  });

  it('reaches the operator ungarbled in an operation failure', () => {
    let message = '';
    try {
      interpretOutcome('discover', { stdout: '', stderr: CLIXML, exitCode: 1, exitSignal: null }, 'SQL1');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("stderr: \"New-Item : Access to the path 'C:\\ProgramData\\AutoDBAudit\\staging' is denied.");
    expect(message).not.toContain('<Objs');
    expect(message).not.toContain('_x000D_');
  });
});
