import { describe, expect, it } from 'vitest';
import { parseIsoTime } from '../../src/config/isoTime.js';
import { maintenanceWindowSchema } from '../../src/config/schemas.js';
import type { HostContext } from '../../src/deploy/actions/types.js';
import type { RunPredictions } from '../../src/deploy/runPredictions.js';
import { MaintenanceWindow } from '../../src/deploy/window.js';

/* Window times read strictly, and a window that has closed said as such. */

describe('an ISO-8601 window end', () => {
  it.each([
    ['2026-02-30T05:00:00Z', '2026-02-30T05:00:00Z: 2026-02 has 28 days, there is no day 30'],
    ['2027-02-29T05:00:00+01:00', '2027-02-29T05:00:00+01:00: 2027-02 has 28 days, there is no day 29'],
    ['2026-04-31T05:00:00Z', '2026-04-31T05:00:00Z: 2026-04 has 30 days, there is no day 31'],
    ['2026-13-01T05:00:00Z', '2026-13-01T05:00:00Z: there is no month 13'],
    ['2026-11-28T24:30:00Z', '2026-11-28T24:30:00Z: not a time of day (hours 00-23, minutes and seconds 00-59)'],
    ['2026-11-28T05:00:00+25:00', '2026-11-28T05:00:00+25:00: not an offset from UTC (+hh:mm, hours 00-23)'],
    ['2026-11-28T05:00:00', 'expected an ISO-8601 time with its offset, e.g. 2026-11-28T05:00:00+01:00 or 2026-11-28T04:00:00Z'],
  ])('refuses %s instead of rolling it over', (text, problem) => {
    expect(parseIsoTime(text)).toEqual({ problem });
    const parsed = maintenanceWindowSchema.safeParse({ end: text });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe(problem);
  });

  it.each([
    ['2028-02-29T05:00:00Z', Date.UTC(2028, 1, 29, 5)],
    ['2026-11-28T05:00+01:00', Date.UTC(2026, 10, 28, 4)],
    ['2026-12-31T23:59:59.999-05:30', Date.UTC(2027, 0, 1, 5, 29, 59, 999)],
  ])('reads %s as the instant it names', (text, ms) => {
    expect(parseIsoTime(text)).toEqual({ ms });
    expect(maintenanceWindowSchema.parse({ end: text }).end).toBe(text);
  });
});

describe('a window that has closed (a resumed run keeps its own)', () => {
  const predictions = { ms: () => 60_000, describe: () => 'predicted from expected_minutes' } as unknown as RunPredictions;
  const host = { server: 'SQL1' } as unknown as HostContext;

  it('is said to have ended, and how long ago, not "0 s from now"', () => {
    const end = Date.UTC(2020, 0, 1);
    const window = new MaintenanceWindow(end, predictions, () => end + 3 * 86_400_000);
    expect(window.refusesInstall(host, 'x')?.reason).toMatch(/^SQL1: not started: the maintenance window ended at 2020-01-01T00:00:00\.000Z, 3 days ago, and the installer needs about 1 min/);
  });

  it('still open: the time left', () => {
    const end = Date.UTC(2026, 10, 28, 5);
    const window = new MaintenanceWindow(end, predictions, () => end - 30_000);
    expect(window.refusesInstall(host, 'x')?.reason).toMatch(/the maintenance window ends at 2026-11-28T05:00:00\.000Z, 30 s from now, and the installer needs about 1 min/);
  });
});
