#!/usr/bin/env node
// Runs the Pester tests of the PowerShell operations (test/powershell/*.Tests.ps1) under pwsh,
// non-interactively. Prints "Pester: N passed, N failed, N skipped" last and exits non-zero when a
// test or a test file failed, or when nothing ran.
//
// pwsh: $PWSH, else on PATH, else ~/.dotnet/tools/pwsh (`dotnet tool install --global PowerShell`).
// Pester: $PESTER_MODULE, else the version pinned in scripts/ci/pester.csproj from the NuGet cache
// (`dotnet restore scripts/ci/pester.csproj` fetches it).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function findPwsh() {
  if (process.env.PWSH) return process.env.PWSH;
  const name = process.platform === 'win32' ? 'pwsh.exe' : 'pwsh';
  const candidates = [
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name)),
    join(homedir(), '.dotnet', 'tools', name),
  ];
  return candidates.find((candidate) => existsSync(candidate)) ?? null;
}

function findPester() {
  if (process.env.PESTER_MODULE) return process.env.PESTER_MODULE;
  const project = readFileSync(join(root, 'scripts/ci/pester.csproj'), 'utf8');
  const version = /Include="Pester"\s+Version="\[([^\]]+)\]"/.exec(project)?.[1];
  if (!version) return null;
  const packages = process.env.NUGET_PACKAGES ?? join(homedir(), '.nuget', 'packages');
  const module = join(packages, 'pester', version, 'tools', 'Pester.psd1');
  return existsSync(module) ? module : null;
}

const pwsh = findPwsh();
if (!pwsh) {
  console.error('pwsh (PowerShell 7) was not found on PATH or in ~/.dotnet/tools; .ci/run installs it (dotnet tool install --global PowerShell).');
  process.exit(2);
}
const pester = findPester();
if (!pester) {
  console.error('The Pester module was not found; .ci/run fetches it (dotnet restore scripts/ci/pester.csproj), or set PESTER_MODULE.');
  process.exit(2);
}

// Paths reach PowerShell through the environment, never spliced into the command text.
const command = `
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Import-Module -Name $env:PESTER_MODULE_PATH -Force
$configuration = New-PesterConfiguration
$configuration.Run.Path = $env:PESTER_TEST_PATH
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Detailed'
$result = Invoke-Pester -Configuration $configuration
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
'Pester: {0} passed, {1} failed, {2} skipped' -f $result.PassedCount, $failed, $result.SkippedCount
if ($failed -gt 0 -or $result.PassedCount -eq 0) { exit 1 }
exit 0
`;

const run = spawnSync(pwsh, ['-NoLogo', '-NoProfile', '-NonInteractive', '-Command', command], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PESTER_MODULE_PATH: pester,
    PESTER_TEST_PATH: join(root, 'test', 'powershell'),
    // Plain text: the log is read by people and by the vitest wrapper, not by a terminal.
    NO_COLOR: '1',
  },
});
if (run.error) {
  console.error(`pwsh could not be started: ${run.error.message}`);
  process.exit(2);
}
process.exit(run.status ?? 1);
