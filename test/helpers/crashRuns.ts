import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { readHistory } from './labFleet.js';
import { CLI } from './runCli.js';

/** What the crash suites share: a fresh copy of a lab fleet per scenario, a deploy that may be killed, and resuming until done. */

export interface Fleet {
  readonly root: string;
  readonly config: string;
}

/** A copy of `template` in a new temporary folder named with `prefix`: each scenario starts from the same world. */
export function copyFleet(template: Fleet, prefix: string): Fleet {
  const root = mkdtempSync(path.join(tmpdir(), prefix));
  cpSync(template.root, root, { recursive: true });
  return { root, config: path.join(root, 'config/audit_config.json') };
}

/** `--deploy-hotfixes --yes` with `args`, killed with SIGKILL after `killAfterMs` (60 s by default). */
export function deployCli(config: string, args: string[], env: Record<string, string> = {}, killAfterMs?: number) {
  return spawnSync(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--config', config, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: killAfterMs ?? 60_000,
    killSignal: 'SIGKILL',
  });
}

/** The runs recorded so far; none when the kill came before history.db had its tables. */
export function recordedRuns(root: string): { status: string }[] {
  if (!existsSync(path.join(root, 'output/history.db'))) return [];
  const tables = readHistory<{ name: string }>(root, "SELECT name FROM sqlite_master WHERE name = 'hotfix_runs'");
  return tables.length === 0 ? [] : readHistory<{ status: string }>(root, 'SELECT status FROM hotfix_runs');
}

/** Resumes (or, when the crash came before the run was recorded, deploys again) until no run is unfinished; returns how many resumes it took. */
export function resumeUntilDone(fleet: Fleet): number {
  let resumes = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const runs = recordedRuns(fleet.root);
    if (runs.length === 0) {
      deployCli(fleet.config, []);
      continue;
    }
    if (!runs.some((r) => r.status === 'running' || r.status === 'interrupted')) return resumes;
    const result = deployCli(fleet.config, ['--resume']);
    resumes++;
    expect(result.signal, result.stdout + result.stderr).toBeNull();
  }
  throw new Error('the run did not finish after 5 resumes');
}
