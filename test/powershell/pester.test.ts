import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { requirePwsh } from './pwsh.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function runPester(pwsh: string): Promise<{ exitCode: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/runPester.mjs'], { cwd: root, env: { ...process.env, PWSH: pwsh } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ exitCode, output }));
  });
}

it('passes every Pester test of the target-side operations, skipping none', async () => {
  const { exitCode, output } = await runPester(requirePwsh());
  const summary = /^Pester: (\d+) passed, (\d+) failed, (\d+) skipped$/m.exec(output);
  expect(summary, output).not.toBeNull();
  const [, passed, failed, skipped] = summary!.map(Number);
  expect({ exitCode, failed, skipped }, output).toEqual({ exitCode: 0, failed: 0, skipped: 0 });
  expect(passed).toBeGreaterThanOrEqual(60);
}, 180_000);
