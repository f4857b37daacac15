/*
 * ISO-8601 times with their offset, read strictly. `Date.parse` rolls an impossible date over
 * (`2026-02-30` becomes March 2) and accepts hours like 24:30; a maintenance window read that way
 * closes on a day the operator never wrote.
 */

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|([+-])(\d{2}):(\d{2}))$/;

export const ISO_TIME_EXPECTED = 'expected an ISO-8601 time with its offset, e.g. 2026-11-28T05:00:00+01:00 or 2026-11-28T04:00:00Z';

/** The instant (epoch ms) of an ISO-8601 time with offset, or a reason it is not one. */
export function parseIsoTime(text: string): { ms: number } | { problem: string } {
  const m = ISO_TIME.exec(text);
  if (!m) return { problem: ISO_TIME_EXPECTED };
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 1 || month > 12) return { problem: `${text}: there is no month ${m[2]}` };
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return { problem: `${text}: ${m[1]}-${m[2]} has ${daysInMonth} days, there is no day ${m[3]}` };
  if (hour > 23 || minute > 59 || second > 59) return { problem: `${text}: not a time of day (hours 00-23, minutes and seconds 00-59)` };
  if (m[7] !== 'Z' && (Number(m[9]) > 23 || Number(m[10]) > 59)) return { problem: `${text}: not an offset from UTC (${m[8]}hh:mm, hours 00-23)` };
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? { problem: ISO_TIME_EXPECTED } : { ms };
}
