import { z } from 'zod';
import type { CatalogFile, CatalogRow } from './catalogFile.js';
import { BUILD_TEXT, CATALOG_FORMAT, CATALOG_FORMAT_VERSION, DATE_TEXT, DBATOOLS_LICENSE_NOTICE, DBATOOLS_SOURCE, KB_TEXT } from './catalogFormat.js';

/*
 * dbatools' build reference format (bin/dbatools-buildref-index.json), as operators bring it to an
 * air-gapped machine for `--update-catalog`. Keys the tool does not use are let through, so that a
 * field dbatools adds later does not block an update; the ones it uses are checked strictly.
 */

const dateText = z.string().regex(DATE_TEXT, 'expected a date such as 2026-07-16');
const kbText = z.string().trim().regex(KB_TEXT, 'expected the digits of a KB number, e.g. "5039747"');

export const dbatoolsEntrySchema = z.looseObject({
  Version: z.string().regex(BUILD_TEXT, 'expected a build such as 15.0.4385'),
  Name: z.string().min(1).nullish(),
  SP: z.string().min(1).nullish(),
  CU: z.string().regex(/^CU\d+$/, 'expected CU followed by a number, e.g. CU28').nullish(),
  KBList: z.union([kbText, z.array(kbText)]).nullish(),
  SupportedUntil: dateText.nullish(),
  ReleaseDate: dateText.nullish(),
  Retired: z.boolean().nullish(),
});

export const dbatoolsIndexSchema = z.looseObject({
  LastUpdated: dateText,
  Data: z.array(dbatoolsEntrySchema).min(1, 'expected at least one build'),
});
export type DbatoolsIndex = z.infer<typeof dbatoolsIndexSchema>;

/** A problem in a reference file, by JSON path (`Data[12].Version`). */
export interface IndexProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * What the schema cannot say: the reference is read in order (a build without its own SP/CU
 * belongs to the ones before it), so within a release builds must rise, and each release must be
 * named before its first build.
 */
export function indexProblems(index: DbatoolsIndex): IndexProblem[] {
  const problems: IndexProblem[] = [];
  let previous: { release: string; parts: number[]; at: number } | null = null;
  const named = new Set<string>();
  index.Data.forEach((entry, i) => {
    const parts = entry.Version.split('.').map(Number);
    const release = `${parts[0]}.${parts[1]}`;
    if (entry.Name) named.add(release);
    if (!named.has(release)) {
      problems.push({ path: `Data[${i}].Name`, message: `build ${entry.Version} comes before any entry naming release ${release} (the first build of a release carries its Name)` });
    }
    if (previous && previous.release === release && compareParts(parts, previous.parts) <= 0) {
      problems.push({ path: `Data[${i}].Version`, message: `build ${entry.Version} is not above Data[${previous.at}] (${previous.parts.join('.')}); builds of a release must be listed in rising order` });
    }
    previous = { release, parts, at: i };
  });
  return problems;
}

function compareParts(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? -1) - (b[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** The reference's facts in the catalog's format, with their source and licence notice. */
export function catalogFromIndex(index: DbatoolsIndex, imported?: { from: string; at: string }): CatalogFile {
  const builds = index.Data.map((e): CatalogRow => {
    const kbs = e.KBList == null ? [] : (Array.isArray(e.KBList) ? e.KBList : [e.KBList]).map((k) => k.trim());
    return {
      build: e.Version,
      ...(e.Name ? { name: e.Name } : {}),
      ...(e.SP ? { sp: e.SP } : {}),
      ...(e.CU ? { cu: e.CU } : {}),
      ...(kbs.length > 0 ? { kbs } : {}),
      ...(e.SupportedUntil ? { supported_until: e.SupportedUntil } : {}),
      ...(e.ReleaseDate ? { release_date: e.ReleaseDate } : {}),
      ...(e.Retired ? { retired: true as const } : {}),
    };
  });
  return {
    format: CATALOG_FORMAT,
    format_version: CATALOG_FORMAT_VERSION,
    last_updated: index.LastUpdated,
    source: { ...DBATOOLS_SOURCE, ...(imported ? { imported_from: imported.from, imported_at: imported.at } : {}) },
    license_notice: DBATOOLS_LICENSE_NOTICE,
    builds,
  };
}
