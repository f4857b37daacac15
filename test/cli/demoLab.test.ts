import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/runCli.js';

/*
 * The demo's fleet (examples/lab, what `npm run demo` deploys) shows what makes the tool different:
 * checked on its plan, which is quick; the README's abridged output is a run of the demo itself.
 */

describe('the demo fleet (examples/lab)', () => {
  it('plans an availability group and an FCI in rolling order, a canary wave, restarts, catalog facts, and failures on purpose', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ada-demo-'));
    try {
      for (const dir of ['config', 'hotfixes']) cpSync(path.resolve('examples/lab', dir), path.join(root, dir), { recursive: true });
      const result = runCli(['--lab-reset', '--hotfix-plan', '--json', '--config', path.join(root, 'config/audit_config.json')]);
      expect(result.code, result.stderr).toBe(0);
      const plan = JSON.parse(result.stdout);
      expect(plan.rolling.availability_groups.map((g: { name: string; failovers: number }) => [g.name, g.failovers])).toEqual([['LAB-AG', 2]]);
      expect(plan.rolling.failover_clusters.map((f: { name: string }) => f.name)).toEqual(['LAB-FCI\\PROD']);
      expect(plan.schedule.waves.map((w: { name: string; hosts: number }) => [w.name, w.hosts])).toEqual([
        ['canary', 1],
        ['rest', 12],
      ]);
      expect(plan.restarts.length).toBeGreaterThan(0);
      expect(plan.targets.every((t: { catalog?: unknown }) => t.catalog !== undefined)).toBe(true);
      // Failures on purpose: an unreachable host, and installers set to fail, hang past the timeout or change nothing.
      expect(plan.summary).toMatchObject({ unreachable: 1, unsupported: 1, no_mapping: 1, invalid_version: 1 });
      expect(result.stderr).toContain('retired (pulled)');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
