import { describe, expect, it } from 'vitest';
import { DurationModel, percentileOf } from '../../src/predict/durations.js';
import { forecastSchedule } from '../../src/predict/schedule.js';
import { assignWaves } from '../../src/predict/waves.js';

const MIN = 60_000;

describe('installer duration predictions', () => {
  const samples = [
    ...[10, 11, 12, 13, 14, 15, 16, 17, 18, 40].map((m) => ({ server: 'A', installer: 'CU30.exe', instances: 1, durationMs: m * MIN })),
    { server: 'B', installer: 'cu30.EXE', instances: 3, durationMs: 50 * MIN },
    { server: 'C', installer: 'CU30.exe', instances: 3, durationMs: 60 * MIN },
  ];
  const model = new DurationModel(samples, 30 * MIN);

  it("takes the 90th percentile of the host's own executions first", () => {
    expect(model.predict({ server: 'a', installer: 'CU30.exe', instances: 1 })).toEqual({ ms: 18 * MIN, source: 'host_history', samples: 10 });
  });

  it('then hosts where the installer served as many instances, then any host', () => {
    expect(model.predict({ server: 'D', installer: 'CU30.exe', instances: 3 })).toEqual({ ms: 60 * MIN, source: 'similar_hosts', samples: 2 });
    expect(model.predict({ server: 'D', installer: 'CU30.exe', instances: 2 })).toEqual({ ms: 50 * MIN, source: 'fleet_history', samples: 12 });
  });

  it("then the mapping's expected_minutes, then the default", () => {
    expect(model.predict({ server: 'A', installer: 'CU16.exe', instances: 1, expectedMinutes: 12.5 })).toEqual({ ms: 12.5 * MIN, source: 'mapping', samples: 0 });
    expect(model.predict({ server: 'A', installer: 'CU16.exe', instances: 1, expectedMinutes: null })).toEqual({ ms: 30 * MIN, source: 'default', samples: 0 });
  });

  it('percentile is nearest-rank', () => {
    expect(percentileOf([5], 0.9)).toBe(5);
    expect(percentileOf([1, 2, 3, 4], 0.9)).toBe(4);
    expect(percentileOf([4, 3, 2, 1, 5, 6, 7, 8, 9, 10], 0.5)).toBe(5);
    expect(() => percentileOf([], 0.9)).toThrow(/empty/);
  });
});

describe('schedule forecast', () => {
  const host = (server: string, minutes: number[], wave = 0) => ({ server, wave, installersMs: minutes.map((m) => m * MIN) });

  it('lays hosts longest first into the free slots and gives the makespan', () => {
    const f = forecastSchedule({
      hosts: [host('S1', [10]), host('L', [20, 20]), host('S2', [10]), host('S3', [10])],
      waves: [{ name: 'all', soakMs: 0 }],
      concurrency: 2,
      startMs: 0,
      windowEndMs: null,
    });
    expect(f.hosts.map((h) => [h.server, h.startMs! / MIN, h.endMs! / MIN])).toEqual([
      ['L', 0, 40],
      ['S1', 0, 10],
      ['S2', 10, 20],
      ['S3', 20, 30],
    ]);
    expect(f.makespanMs).toBe(40 * MIN);
    expect(f.fits).toBeNull();
  });

  it('defers a host whose work would end past the window, and keeps its slot free for one that fits', () => {
    const f = forecastSchedule({
      hosts: [host('A', [30]), host('B', [30]), host('C', [25]), host('D', [5])],
      waves: [{ name: 'all', soakMs: 0 }],
      concurrency: 1,
      startMs: 0,
      windowEndMs: 40 * MIN,
    });
    expect(f.hosts.filter((h) => h.deferred).map((h) => [h.server, h.neededMs / MIN])).toEqual([
      ['B', 30],
      ['C', 25],
    ]);
    expect(f.hosts.find((h) => h.server === 'D')).toMatchObject({ startMs: 30 * MIN, endMs: 35 * MIN });
    expect(f.fits).toBe(false);
    expect(f.endMs).toBe(35 * MIN);
  });

  it('runs waves one after another with the soak between them, not after the last', () => {
    const f = forecastSchedule({
      hosts: [host('C1', [10], 0), host('R1', [20], 1), host('R2', [5], 1)],
      waves: [
        { name: 'canary', soakMs: 15 * MIN },
        { name: 'rest', soakMs: 15 * MIN },
      ],
      concurrency: 5,
      startMs: 0,
      windowEndMs: null,
    });
    expect(f.waves.map((w) => [w.name, w.startMs / MIN, w.endMs / MIN, w.releaseMs / MIN])).toEqual([
      ['canary', 0, 10, 25],
      ['rest', 25, 45, 45],
    ]);
    expect(f.endMs).toBe(45 * MIN);
  });

  it('mid-run: running hosts keep their slots, finished waves take no time', () => {
    const f = forecastSchedule({
      hosts: [{ server: 'R', wave: 1, installersMs: [20 * MIN], runningRemainingMs: 5 * MIN }, host('P', [10], 1)],
      waves: [
        { name: 'canary', soakMs: 0, done: true },
        { name: 'rest', soakMs: 0 },
      ],
      concurrency: 1,
      startMs: 100 * MIN,
      windowEndMs: null,
    });
    expect(f.endMs).toBe(115 * MIN);
  });
});

describe('wave assignment', () => {
  const waves = [
    { name: 'canary', servers: ['SQL01'], max_failed: 0, soak_minutes: 10 },
    { name: 'test', tags: ['test'], max_failed: 1, soak_minutes: 0 },
    { name: 'rest', max_failed: 2, soak_minutes: 0 },
  ];

  it('puts a host in the first wave that names it or one of its tags, and the rest in the catch-all', () => {
    const a = assignWaves(waves, [
      { server: 'sql01', tags: ['test'] },
      { server: 'SQL02', tags: ['TEST'] },
      { server: 'SQL03', tags: [] },
    ]);
    expect(a.waves.map((w) => [w.name, w.servers])).toEqual([
      ['canary', ['sql01']],
      ['test', ['SQL02']],
      ['rest', ['SQL03']],
    ]);
    expect(a.warnings).toEqual([]);
  });

  it('without a catch-all, hosts no wave takes run last as wave "rest", with a warning; unknown hosts are warned of', () => {
    const a = assignWaves(waves.slice(0, 1), [
      { server: 'SQL01', tags: [] },
      { server: 'SQL09', tags: [] },
    ]);
    expect(a.waves.map((w) => [w.name, w.servers])).toEqual([
      ['canary', ['SQL01']],
      ['rest', ['SQL09']],
    ]);
    expect(a.warnings.join('\n')).toMatch(/1 host\(s\) fall in no configured wave \(SQL09\)/);
    expect(assignWaves(waves, [{ server: 'X', tags: [] }]).warnings.join('\n')).toContain('wave canary: host SQL01 is not in this plan');
  });

  it('a configured wave named "rest" that takes only some hosts: the implicit last wave gets a name of its own', () => {
    const named = [
      { name: 'canary', servers: ['SQL01'], max_failed: 0, soak_minutes: 0 },
      { name: 'Rest', tags: ['late'], max_failed: 1, soak_minutes: 0 },
      { name: 'rest-2', tags: ['later'], max_failed: 1, soak_minutes: 0 },
    ];
    const a = assignWaves(named, [
      { server: 'SQL01', tags: [] },
      { server: 'SQL02', tags: ['late'] },
      { server: 'SQL03', tags: [] },
    ]);
    expect(a.waves.map((w) => [w.name, w.servers])).toEqual([
      ['canary', ['SQL01']],
      ['Rest', ['SQL02']],
      ['rest-2', []],
      ['rest-3', ['SQL03']],
    ]);
    expect(new Set(a.waves.map((w) => w.name.toLowerCase())).size).toBe(a.waves.length);
    expect(a.warnings.join('\n')).toContain('they run last, as wave "rest-3"');
  });
});
