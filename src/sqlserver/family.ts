import type { BuildNumber } from './buildNumber.js';

/** Every SQL Server release family the tool knows, oldest first. */
export const VERSION_FAMILIES = [
  '2000',
  '2005',
  '2008',
  '2008R2',
  '2012',
  '2014',
  '2016',
  '2017',
  '2019',
  '2022',
  '2025',
] as const;
export type VersionFamily = (typeof VERSION_FAMILIES)[number];

// Major version → family; 10 is split by minor version (10.0 is 2008, 10.50 is 2008 R2).
const FAMILY_BY_MAJOR: Readonly<Record<number, VersionFamily>> = {
  8: '2000',
  9: '2005',
  11: '2012',
  12: '2014',
  13: '2016',
  14: '2017',
  15: '2019',
  16: '2022',
  17: '2025',
};

/** The release family of a build, or null when its major.minor is not a SQL Server release. */
export function familyOf(build: BuildNumber): VersionFamily | null {
  const [major, minor] = build.parts;
  if (major === 10) {
    if (minor === 0) return '2008';
    if (minor === 50) return '2008R2';
    return null;
  }
  if (minor !== 0) return null;
  return FAMILY_BY_MAJOR[major] ?? null;
}

export function isVersionFamily(value: string): value is VersionFamily {
  return (VERSION_FAMILIES as readonly string[]).includes(value);
}

/**
 * A family as people write it in a mapping file, normalized: "2008 R2", "2008r2" → "2008R2",
 * "SQL Server 2019" → "2019". The loader and the planner both read families through this.
 */
export function normalizeFamilyName(text: string): string {
  return text.replace(/\s+/g, '').toUpperCase().replace(/^SQL(SERVER)?/, '');
}
