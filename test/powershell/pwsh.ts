import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * The pwsh that runs the PowerShell tests. These tests never skip: without pwsh they fail and say how
 * to get it.
 */
export function requirePwsh(): string {
  const name = process.platform === 'win32' ? 'pwsh.exe' : 'pwsh';
  const candidates = [
    ...(process.env.PWSH ? [process.env.PWSH] : []),
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name)),
    join(homedir(), '.dotnet', 'tools', name),
  ];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) {
    throw new Error(
      'pwsh (PowerShell 7) was not found on PATH or in ~/.dotnet/tools. .ci/run installs it (dotnet tool install --global PowerShell); the PowerShell tests do not skip without it.',
    );
  }
  return found;
}
