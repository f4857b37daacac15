import type { CatalogFile } from './catalogFile.js';

/*
 * The build catalog, read the way dbatools reads its reference: builds are listed per release in
 * rising order; a row with `sp` starts a service-pack level (RTM, SP1…, or RC), a row with `cu`
 * is that level's cumulative update, and a row with neither belongs to the level and CU listed
 * before it. Builds are matched on their first three parts. Pure: no file is read here.
 */

/** What kind of update a build is. */
export const BUILD_KINDS = ['pre_release', 'service_pack', 'cumulative_update', 'update'] as const;
export type BuildKind = (typeof BUILD_KINDS)[number];

/** One build the catalog knows, with where it stands in its release. */
export interface CatalogEntry {
  /** The first three parts, the key builds are matched on: `15.0.4385`. */
  readonly key: string;
  readonly parts: readonly [number, number, number];
  /** The build as the reference writes it. */
  readonly build: string;
  /** `2019`, `2008R2`: the reference's release name (major.minor when it names none). */
  readonly release: string;
  /** "SQL Server 2019", "SQL Server 2008 R2". */
  readonly releaseName: string;
  /** Service-pack level: `RTM`, `SP3`, `RC`; null before the first level of the release (pre-release builds). */
  readonly level: string | null;
  /** The cumulative update on that level (28 for CU28); null for none. */
  readonly cu: number | null;
  readonly kind: BuildKind;
  /** "SQL Server 2019 CU28", "SQL Server 2016 SP3 GDR", "SQL Server 2019 CU28 + GDR". */
  readonly name: string;
  readonly kbs: readonly string[];
  readonly releaseDate: string | null;
  /** End of support of its level, `YYYY-MM-DD`. */
  readonly supportedUntil: string | null;
  readonly retired: boolean;
}

/** What a release's levels hold: their newest CU and the newest level. */
interface ReleaseSummary {
  readonly releaseName: string;
  /** Per level, its newest cumulative update that Microsoft has not retired. */
  readonly newestCuByLevel: ReadonlyMap<string, CatalogEntry>;
  /** The release's last service-pack level (`SP3` for 2016, `RTM` for 2019). */
  readonly newestLevel: string | null;
  /** The newest cumulative update of the release (highest build, not retired), on any level. */
  readonly newestCu: CatalogEntry | null;
  /** Every build of the release, in rising order. */
  readonly entries: readonly CatalogEntry[];
}

/** Release names as people write them: the reference says "2008R2". */
export function releaseDisplayName(release: string): string {
  return `SQL Server ${release.replace(/^(\d{4})R2$/, '$1 R2')}`;
}

/** `2026-07-16T00:00:00` → `2026-07-16`. */
function day(text: string | undefined): string | null {
  return text ? text.slice(0, 10) : null;
}

/** The first three numbers of a build: indexOf and slices, as this runs for every row and look-up. */
function partsOf(build: string): [number, number, number] {
  const a = build.indexOf('.');
  const b = build.indexOf('.', a + 1);
  const c = build.indexOf('.', b + 1);
  return [Number(build.slice(0, a)), Number(build.slice(a + 1, b)), Number(build.slice(b + 1, c < 0 ? undefined : c))];
}

export function compareKeys(a: readonly number[], b: readonly number[]): number {
  return a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
}

function levelName(releaseName: string, level: string, cu: number | null): string {
  if (cu === null) return `${releaseName} ${level}`;
  // Microsoft names the CUs of an RTM level without it: "SQL Server 2019 CU28".
  return level === 'RTM' ? `${releaseName} CU${cu}` : `${releaseName} ${level} CU${cu}`;
}

/**
 * The name of a build listed without its own SP/CU label. From SQL Server 2016 on, such builds are
 * Microsoft's security updates: GDR on a level without CU, "CU + GDR" on a CU. For older releases
 * the reference also lists hotfixes it does not tell apart from security updates: "+ update".
 */
function updateName(major: number, releaseName: string, level: string, cu: number | null): string {
  const base = levelName(releaseName, level, cu);
  if (major < 13) return `${base} + update`;
  return cu === null ? `${base} GDR` : `${base} + GDR`;
}

/** A release's builds, read: worked out the first time the release is asked about. */
interface ReadRelease extends ReleaseSummary {
  /** Per row index of the catalog file, its entry. */
  readonly byRow: ReadonlyMap<number, CatalogEntry>;
  readonly byKey: ReadonlyMap<string, CatalogEntry>;
}

export class BuildCatalog {
  readonly lastUpdated: string;
  readonly source: CatalogFile['source'];
  readonly licenseNotice: string;
  private readonly rows: CatalogFile['builds'];
  /** Row indexes per release (`15.0`), in file order. */
  private readonly rowsByRelease = new Map<string, number[]>();
  private readonly releases = new Map<string, ReadRelease>();
  private kbRows: Map<string, number[]> | null = null;

  constructor(file: CatalogFile) {
    this.lastUpdated = file.last_updated;
    this.source = file.source;
    this.licenseNotice = file.license_notice;
    this.rows = file.builds;
    // Only the rows are grouped here; a release is read when first asked about, so a plan of a
    // fleet on a few releases does not pay for the other releases' hundreds of builds.
    file.builds.forEach((row, i) => {
      const first = row.build.indexOf('.');
      const second = row.build.indexOf('.', first + 1);
      const key = `${Number(row.build.slice(0, first))}.${Number(row.build.slice(first + 1, second))}`;
      const list = this.rowsByRelease.get(key);
      if (list) list.push(i);
      else this.rowsByRelease.set(key, [i]);
    });
  }

  /** Every entry, in the catalog file's order. */
  get entries(): readonly CatalogEntry[] {
    const all: CatalogEntry[] = new Array(this.rows.length);
    for (const key of this.rowsByRelease.keys()) {
      for (const [i, entry] of this.release(key)!.byRow) all[i] = entry;
    }
    return all;
  }

  private release(key: string): ReadRelease | undefined {
    let read = this.releases.get(key);
    if (!read) {
      const indexes = this.rowsByRelease.get(key);
      if (!indexes) return undefined;
      read = readRelease(key, indexes, this.rows);
      this.releases.set(key, read);
    }
    return read;
  }

  /** The catalog's entry for a build (matched on its first three parts), or undefined. */
  lookup(build: string | readonly number[]): CatalogEntry | undefined {
    const parts = typeof build === 'string' ? partsOf(build) : build;
    return this.release(`${parts[0]}.${parts[1]}`)?.byKey.get(`${parts[0]}.${parts[1]}.${parts[2]}`);
  }

  /** The builds a KB number describes (digits, or `KB…`), lowest first. */
  byKnowledgeBase(kb: string): readonly CatalogEntry[] {
    if (!this.kbRows) {
      this.kbRows = new Map();
      this.rows.forEach((row, i) => {
        for (const k of row.kbs ?? []) {
          const list = this.kbRows!.get(k);
          if (list) list.push(i);
          else this.kbRows!.set(k, [i]);
        }
      });
    }
    return (this.kbRows.get(kb.replace(/^KB/i, '')) ?? []).map((i) => {
      const row = this.rows[i]!;
      const parts = partsOf(row.build);
      return this.release(`${parts[0]}.${parts[1]}`)!.byRow.get(i)!;
    });
  }

  /** The release name for a major.minor the catalog knows ("SQL Server 2019"), or null. */
  releaseNameOf(major: number, minor: number): string | null {
    return this.release(`${major}.${minor}`)?.releaseName ?? null;
  }

  /** Every build of a release, in rising order (empty when the catalog does not know it). */
  releaseEntries(major: number, minor: number): readonly CatalogEntry[] {
    return this.release(`${major}.${minor}`)?.entries ?? [];
  }

  /** The newest cumulative update (not retired) of a build's level, or null when the level has none. */
  newestCuOfLevel(entry: CatalogEntry): CatalogEntry | null {
    if (entry.level === null) return null;
    return this.release(`${entry.parts[0]}.${entry.parts[1]}`)?.newestCuByLevel.get(entry.level) ?? null;
  }

  /** The newest cumulative update (not retired) of a release, on any level. */
  newestCuOfRelease(major: number, minor: number): CatalogEntry | null {
    return this.release(`${major}.${minor}`)?.newestCu ?? null;
  }

  /** The release's last service-pack level, when it is not the build's own (`SP3` for a build on SP2). */
  newerLevel(entry: CatalogEntry): string | null {
    const newest = this.release(`${entry.parts[0]}.${entry.parts[1]}`)?.newestLevel ?? null;
    return newest !== null && newest !== entry.level ? newest : null;
  }

  /**
   * How many cumulative updates the build is behind the newest one known for its level: CU28 when
   * CU32 is the newest is 4; a GDR on the RTM level of 2019 is 32. Null for pre-release builds.
   */
  cusBehind(entry: CatalogEntry): number | null {
    if (entry.level === null) return null;
    const newest = this.newestCuOfLevel(entry);
    if (!newest) return 0;
    return Math.max(0, (newest.cu ?? 0) - (entry.cu ?? 0));
  }
}

/** Reads one release's rows the way dbatools does (see the top of this file). */
function readRelease(groupKey: string, indexes: readonly number[], rows: CatalogFile['builds']): ReadRelease {
  const byRow = new Map<number, CatalogEntry>();
  const byKey = new Map<string, CatalogEntry>();
  const entries: CatalogEntry[] = [];
  let release = groupKey;
  let releaseName = releaseDisplayName(release);
  let level: string | null = null;
  let cu: number | null = null;
  let supportedUntil: string | null = null;
  for (const i of indexes) {
    const row = rows[i]!;
    const parts = partsOf(row.build);
    if (row.name) {
      release = row.name;
      releaseName = releaseDisplayName(release);
    }
    if (row.sp) {
      level = row.sp;
      cu = null;
    }
    if (row.cu) cu = Number(row.cu.slice(2));
    const kind: BuildKind = row.cu ? 'cumulative_update' : row.sp ? 'service_pack' : level === null ? 'pre_release' : 'update';
    // dbatools keeps the last end of support seen: it is written on the level's first row.
    if (row.supported_until) supportedUntil = day(row.supported_until);
    const name =
      level === null
        ? `${releaseName} pre-release`
        : kind === 'update'
          ? updateName(parts[0], releaseName, level, cu)
          : levelName(releaseName, level, cu);
    const entry: CatalogEntry = {
      key: `${parts[0]}.${parts[1]}.${parts[2]}`,
      parts,
      build: row.build,
      release,
      releaseName,
      level,
      cu,
      kind,
      name,
      kbs: row.kbs ?? [],
      releaseDate: day(row.release_date),
      supportedUntil: level === null ? null : supportedUntil,
      retired: row.retired === true,
    };
    byRow.set(i, entry);
    // The reference lists RC refreshes twice under one three-part build: the first is kept, and
    // is the one the release's list holds.
    if (!byKey.has(entry.key)) {
      byKey.set(entry.key, entry);
      entries.push(entry);
    }
  }
  const newestCuByLevel = new Map<string, CatalogEntry>();
  let newestLevel: string | null = null;
  let newestCu: CatalogEntry | null = null;
  for (const e of entries) {
    if (e.kind === 'service_pack') newestLevel = e.level;
    if (e.kind !== 'cumulative_update' || e.retired || e.level === null) continue;
    const known = newestCuByLevel.get(e.level);
    if (!known || (e.cu ?? 0) > (known.cu ?? 0)) newestCuByLevel.set(e.level, e);
    if (!newestCu || compareKeys(e.parts, newestCu.parts) > 0) newestCu = e;
  }
  return { releaseName: entries[0]?.releaseName ?? releaseName, newestCuByLevel, newestLevel, newestCu, entries, byRow, byKey };
}
