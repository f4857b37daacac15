import { describe, expect, it } from 'vitest';
import { localBootstrapScript } from '../../src/remote/powershell/operationScript.js';
import { buildOperationScript, encodeOperationArguments } from '../../src/remote/powershell/operationScript.js';
import { COMMAND_LINE_LIMIT, powershellInvocation, sftpPathFor } from '../../src/remote/ssh.js';

function decodedCommand(command: string): string {
  const encoded = command.split(' ').at(-1)!;
  return Buffer.from(encoded, 'base64').toString('utf16le');
}

describe('running a script with PowerShell over SSH', () => {
  const argument = encodeOperationArguments({ instance: 'MSSQLSERVER' });

  it('puts a short script on the command line with -EncodedCommand (UTF-16LE base64), its argument inside', () => {
    const invocation = powershellInvocation('powershell', 'param([string]$EncodedArguments) $EncodedArguments', argument);
    expect(invocation.mode).toBe('encoded');
    expect(invocation.stdin).toBe('');
    expect(invocation.command).toMatch(/^powershell -NoLogo -NoProfile -NonInteractive -EncodedCommand [A-Za-z0-9+/=]+$/);
    expect(decodedCommand(invocation.command)).toBe(`& {\nparam([string]$EncodedArguments) $EncodedArguments\n} '${argument}'`);
  });

  it("sends an operation's script on standard input behind the bootstrap when the command line would be too long", () => {
    const script = buildOperationScript('queryBuild');
    const invocation = powershellInvocation('pwsh', script, argument);
    expect(invocation.mode).toBe('stdin');
    expect(invocation.command.length).toBeLessThan(COMMAND_LINE_LIMIT - 1024);
    expect(decodedCommand(invocation.command)).toBe(localBootstrapScript());
    const [scriptLine, argumentLine, rest] = invocation.stdin.split('\n');
    expect(Buffer.from(scriptLine!, 'base64').toString('utf8')).toBe(script);
    expect(argumentLine).toBe(argument);
    expect(rest).toBe('');
  });

  it('keeps the encoded command line within what cmd.exe accepts, with a margin', () => {
    for (let size = 1000; size < 6000; size += 250) {
      const invocation = powershellInvocation('powershell', `param([string]$EncodedArguments) '${'x'.repeat(size)}'`, argument);
      if (invocation.mode === 'encoded') expect(invocation.command.length).toBeLessThanOrEqual(COMMAND_LINE_LIMIT - 1024);
    }
  });

  it('quotes a PowerShell path with spaces, and never takes an argument that is not base64', () => {
    expect(powershellInvocation('C:\\Program Files\\PowerShell\\7\\pwsh.exe', 'param($a)', '').command).toMatch(/^"C:\\Program Files\\PowerShell\\7\\pwsh\.exe" -NoLogo/);
    expect(() => powershellInvocation('powershell', 'param($a)', "x'; Remove-Item C:\\ -Recurse; '")).toThrow(/base64/);
  });
});

describe('SFTP paths of the staging folder', () => {
  it('maps Windows drive paths as Windows OpenSSH names them, and passes POSIX paths through', () => {
    expect(sftpPathFor('C:\\Windows\\Temp\\AutoDBAudit\\SQLServer2019-KB5046859-x64.exe')).toBe('/C:/Windows/Temp/AutoDBAudit/SQLServer2019-KB5046859-x64.exe');
    expect(sftpPathFor('D:/Staging/x.exe')).toBe('/D:/Staging/x.exe');
    expect(sftpPathFor('/tmp/bed/staging/CU30.exe')).toBe('/tmp/bed/staging/CU30.exe');
    expect(() => sftpPathFor('\\\\fs01\\patches\\x.exe')).toThrow(/UNC path, which SFTP cannot write to/);
  });
});
