import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Parser } from 'web-tree-sitter';
import { beforeAll, describe, expect, it } from 'vitest';
import { findPowerShell51Problems, powershellParser, syntaxErrorNodes } from '../../scripts/ps51Compat.js';
import { operationSourceFiles } from '../../src/remote/powershell/operationScript.js';

const operationsDir = fileURLToPath(new URL('../../src/remote/powershell/', import.meta.url));
const testDir = fileURLToPath(new URL('./', import.meta.url));

function ps1Files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ps1'))
    .map((name) => join(dir, name))
    .sort();
}

let parser: Parser;
beforeAll(async () => {
  parser = await powershellParser();
});

function problemsOf(source: string): string[] {
  return findPowerShell51Problems(source, parser).map((problem) => `${problem.line}:${problem.column} ${problem.message}`);
}

describe('the PowerShell sources', () => {
  it('are all part of some operation (none lies unused and unchecked)', () => {
    expect(operationSourceFiles().sort()).toEqual(ps1Files(operationsDir));
  });

  for (const file of [...ps1Files(operationsDir), ...ps1Files(testDir)]) {
    it(`${basename(file)} parses with no ERROR or MISSING node`, () => {
      const tree = parser.parse(readFileSync(file, 'utf8'));
      const errors = syntaxErrorNodes(tree!.rootNode).map(
        (node) => `${node.startPosition.row + 1}:${node.startPosition.column + 1} ${node.isMissing ? 'MISSING' : 'ERROR'} ${node.text.slice(0, 60)}`,
      );
      tree!.delete();
      expect(errors).toEqual([]);
    });
  }

  // The target-side files must run on Windows PowerShell 5.1; the tests and fixtures run only under pwsh.
  for (const file of ps1Files(operationsDir)) {
    it(`${basename(file)} uses nothing Windows PowerShell 5.1 lacks`, () => {
      expect(problemsOf(readFileSync(file, 'utf8'))).toEqual([]);
    });
  }
});

describe('the PowerShell 5.1 compatibility checker', () => {
  it('accepts what 5.1 runs', () => {
    const source = [
      'param([string]$EncodedArguments)',
      '$ErrorActionPreference = "Stop"',
      'function Get-Thing {',
      '    [CmdletBinding()]',
      '    param([Parameter(Mandatory = $true)][string]$Name)',
      '    begin { }',
      '    process { $Name }',
      '    end { }',
      '}',
      '$table = [ordered]@{ a = 1; b = @(1, 2) }',
      '$value = if ($null -eq $x) { 1 } else { 2 }',
      '$items | Where-Object { $_ -gt 1 } | ForEach-Object { $_ * 2 }',
      'try { Get-Item -LiteralPath $path -ErrorAction Stop } catch [System.IO.IOException] { throw } finally { }',
      '$json = $text | ConvertFrom-Json',
      'ConvertTo-Json -InputObject $table -Depth 5 -Compress',
      '"escaped `t tab and ``e literal" -replace "a", "b"',
      'Set-Content -LiteralPath $p -Value $v -Encoding UTF8',
      '$windows = [System.Environment]::OSVersion.Platform -eq "Win32NT"',
      '& $command @splat 2>&1 | Out-Null',
      'Invoke-Command -Session $s -ScriptBlock { param($a) $using:b } -ArgumentList 1',
      '',
    ].join('\n');
    expect(problemsOf(source)).toEqual([]);
  });

  it.each([
    ['$a = $b ?? 1', /null-coalescing operator "\?\?"/],
    ['$a ??= 1', /null-coalescing assignment "\?\?="/],
    ['$a = $b?.Name', /null-conditional member access "\?\."/],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: PowerShell's braced variable.
    ['$a = ${b}?[0]', /null-conditional index "\?\["/],
    ['$a = $b ? 1 : 2', /ternary operator/],
    ['Get-Item x && Get-Item y', /pipeline chain operator "&&"/],
    ['Get-Item x || exit 1', /pipeline chain operator "\|\|"/],
    ['$items | ForEach-Object -Parallel { $_ } -ThrottleLimit 4', /ForEach-Object -Parallel is not in Windows PowerShell 5.1/],
    ['$x = $text | ConvertFrom-Json -AsHashtable', /ConvertFrom-Json -AsHashtable/],
    ['$x = $text | ConvertFrom-Json -Depth 10', /ConvertFrom-Json -Depth/],
    ['$x = $text | ConvertFrom-Json -AsHash', /ConvertFrom-Json -AsHash is not in/],
    ['Get-Error', /command Get-Error does not exist/],
    ['$s = $list | Join-String -Separator ","', /command Join-String does not exist/],
    ['if (Test-Json -Json $t) { }', /command Test-Json does not exist/],
    ['$PSStyle.OutputRendering = "PlainText"', /variable \$PSStyle does not exist/],
    ['if ($IsWindows) { }', /variable \$IsWindows does not exist/],
    ['function f { process { 1 } clean { 2 } }', /clean block/],
    ['function f { clean { 2 } }', /clean block/],
    ['Start-Sleep 5 &', /background operator "&"/],
    ['"a`e[1mb"', /escape `e/],
    ['"smile `u{1F600}"', /escape `u\{…\}/],
    ['$s -replace "x", { $_.Value.ToUpper() }', /-replace with a script block/],
    ['Set-Content -Path $p -Value 1 -Encoding utf8NoBOM', /-Encoding utf8nobom/],
    ['Get-Content $p -AsByteStream', /Get-Content -AsByteStream/],
    ['# caf\u00e9\n', /non-ASCII character/],
  ])('rejects %s', (source, expected) => {
    const problems = problemsOf(source);
    expect(problems.some((problem) => expected.test(problem)), problems.join('\n')).toBe(true);
  });

  it('reports where each problem is', () => {
    const problems = findPowerShell51Problems('$ok = 1\n$bad = $a ?? $b\n', parser);
    expect(problems[0]).toMatchObject({ line: 2 });
  });
});
