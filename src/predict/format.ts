/** Minutes as an operator reads them: `1 h 05 min`, `12.5 min`, `40 s`. */
export function formatMinutes(m: number): string {
  if (m >= 60) return `${Math.floor(m / 60)} h ${String(Math.round(m % 60)).padStart(2, '0')} min`;
  if (m >= 1) return `${Number(m.toFixed(1))} min`;
  return `${Number((m * 60).toFixed(1))} s`;
}

/** A time as `2026-11-28 04:12:05Z`: UTC, as every time the tool writes. */
export function clock(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
}

/** A span that may be long (a window that closed years ago): whole days past two days, else as formatMinutes. */
export function formatSpan(m: number): string {
  const days = Math.floor(m / 1440);
  return days >= 2 ? `${days} days` : formatMinutes(m);
}
