import { describe, expect, it } from 'vitest';
import { LAB_MAPPINGS, labFleet } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';

/** The lab mapping with expected_minutes on CU30 (2019) and CU16 (2022). */
const MAPPINGS = LAB_MAPPINGS.map((m) => ({
  ...m,
  files: m.files.map((f) => (f.name === 'CU30.exe' ? { ...f, expected_minutes: 10 } : f.name === 'CU16.exe' ? { ...f, expected_minutes: 20 } : f)),
}));

describe('--hotfix-plan shows the expected makespan and the window', () => {
  it('predicts from expected_minutes, lays out the fleet at the concurrency limit, and says which hosts a window would defer', () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B' }, { server: 'C', version: '16.0.4085.0' }], {
      mappings: MAPPINGS,
      hotfix: { max_concurrent_servers: 1, default_expected_minutes: 7 },
    });
    const end = new Date(Date.now() + 32 * 60_000).toISOString();
    const result = runCli(['--hotfix-plan', '--offline', '--json', '--window-end', end, '--config', fleet.config]);
    expect(result.code, result.stderr).toBe(0);
    const { schedule } = JSON.parse(result.stdout);
    expect(schedule).toMatchObject({ concurrency: 1, expected_makespan_minutes: 30, window_end: new Date(Date.parse(end)).toISOString(), fits_window: false });
    expect(schedule.hosts.map((h: { server: string; expected_minutes: number; deferred: boolean }) => [h.server, h.expected_minutes, h.deferred])).toEqual([
      ['C', 20, false],
      ['A', 10, false],
      ['B', 10, true],
    ]);
    expect(schedule.hosts[0].installers).toEqual([{ installer: 'CU16.exe', expected_minutes: 20, source: 'mapping', samples: 0 }]);

    const text = runCli(['--hotfix-plan', '--offline', '--window-end', end, '--config', fleet.config]);
    expect(text.stdout).toMatch(/Schedule: 3 host\(s\), 1 at once; expected makespan 30 min, ending about .*; window ends .*: does NOT fit: 1 host\(s\) would be deferred/);
    expect(text.stdout).toMatch(/ {2}B: 10 min \(expected_minutes\); DEFERRED: would not finish inside the window/);
  });

  it('uses the documented default without history or expected_minutes, and fits a window that is long enough', () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B' }], { hotfix: { max_concurrent_servers: 2, default_expected_minutes: 7, maintenance_window: { end: '2999-01-01T00:00:00Z' } } });
    const { schedule } = JSON.parse(runCli(['--hotfix-plan', '--offline', '--json', '--config', fleet.config]).stdout);
    expect(schedule).toMatchObject({ expected_makespan_minutes: 7, window_end: '2999-01-01T00:00:00.000Z', fits_window: true });
    expect(schedule.hosts[0].installers[0]).toMatchObject({ source: 'default', expected_minutes: 7 });
  });

  it('shows the waves in order with their soak time', () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B' }, { server: 'C' }], {
      mappings: MAPPINGS,
      hotfix: { max_concurrent_servers: 5, waves: [{ name: 'canary', servers: ['B'], soak_minutes: 15 }, { name: 'rest', max_failed: 1 }] },
    });
    const { schedule } = JSON.parse(runCli(['--hotfix-plan', '--offline', '--json', '--config', fleet.config]).stdout);
    expect(schedule.waves.map((w: { name: string; hosts: number; max_failed: number; soak_minutes: number }) => [w.name, w.hosts, w.max_failed, w.soak_minutes])).toEqual([
      ['canary', 1, 0, 15],
      ['rest', 2, 1, 0],
    ]);
    expect(schedule.expected_makespan_minutes).toBe(35);
    expect(schedule.hosts.find((h: { server: string }) => h.server === 'B').wave).toBe('canary');
    const text = runCli(['--hotfix-plan', '--offline', '--config', fleet.config]).stdout;
    expect(text).toMatch(/wave canary: 1 host\(s\), .* → .*; may fail: 0; then 15 min soak/);
  });

  it('refuses a window end without an offset and waves that cannot be laid out, naming the file and field (exit 2)', () => {
    const fleet = labFleet([{ server: 'A' }], {
      hotfix: { waves: [{ name: 'all' }, { name: 'canary', servers: ['A'] }, { name: 'canary', tags: [] }] },
    });
    const bad = runCli(['--hotfix-plan', '--offline', '--config', fleet.config]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('hotfix.waves[0]: names no servers and no tags, so it takes every remaining host: only the last wave may do that');
    expect(bad.stderr).toContain('hotfix.waves[2].name: wave name "canary" is also used by hotfix.waves[1]');
    expect(bad.stderr).toContain('hotfix.waves[2]: has empty servers and tags lists');
    const window = runCli(['--hotfix-plan', '--offline', '--config', labFleet([{ server: 'A' }], { hotfix: { maintenance_window: { end: 'tomorrow' } } }).config]);
    expect(window.code).toBe(2);
    expect(window.stderr).toContain('hotfix.maintenance_window.end: expected an ISO-8601 time with its offset');
    const flag = runCli(['--hotfix-plan', '--offline', '--window-end', '2026-11-28T05:00', '--config', labFleet([{ server: 'A' }]).config]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('expected an ISO-8601 time with its offset');
  });
});
