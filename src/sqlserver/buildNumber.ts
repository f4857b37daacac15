/** A SQL Server build such as 15.0.4298.0, held as four numbers so that comparison is numeric. */
export interface BuildNumber {
  readonly parts: readonly [number, number, number, number];
  /** The canonical text: four dot-separated numbers without leading zeros. */
  readonly text: string;
}

const BUILD_PATTERN = /^\d{1,5}(\.\d{1,6}){2,3}$/;

/**
 * Parses a build as SQL Server and its tools print it: `15.0.4298.0`, `9.00.5000.00`, with spaces
 * around it, or with three parts (`16.0.1000`). Returns null for anything else, so that a bad
 * version becomes that target's `invalid_version` instead of an exception.
 */
export function parseBuild(raw: unknown): BuildNumber | null {
  if (typeof raw !== 'string') return null;
  const trimmed = raw.trim();
  if (!BUILD_PATTERN.test(trimmed)) return null;
  const numbers = trimmed.split('.').map((p) => Number.parseInt(p, 10));
  while (numbers.length < 4) numbers.push(0);
  const parts = numbers as unknown as [number, number, number, number];
  return { parts, text: parts.join('.') };
}

/** Negative when a < b, zero when equal, positive when a > b; compares the four numbers in turn. */
export function compareBuilds(a: BuildNumber, b: BuildNumber): number {
  for (let i = 0; i < 4; i++) {
    const d = a.parts[i]! - b.parts[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

export function mustParseBuild(raw: string): BuildNumber {
  const build = parseBuild(raw);
  if (!build) throw new Error(`not a SQL Server build: ${JSON.stringify(raw)}`);
  return build;
}
