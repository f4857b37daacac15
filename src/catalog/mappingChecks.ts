import type { MappingFile } from '../config/schemas.js';
import type { ConfigProblem } from '../errors.js';
import { type BuildNumber, parseBuild } from '../sqlserver/buildNumber.js';
import { normalizeFamilyName } from '../sqlserver/family.js';
import { type BuildCatalog, type CatalogEntry, compareKeys } from './catalog.js';
import { kbText } from './buildFacts.js';

/*
 * What the catalog can tell about a hand-written mapping file: targets Microsoft pulled or that the
 * catalog does not know, installers whose KB is not their target's, releases with a newer CU (or a
 * newer security update) than the mapping reaches, and builds no mapping covers. Each finding names
 * the mapping entry it is about (`hotfix_mapping.json: mappings[2]`). Pure.
 */

export const MAPPING_FINDING_KINDS = ['retired_target', 'unknown_target', 'installer_kb', 'newer_cu', 'newer_update', 'coverage_gap'] as const;
export type MappingFindingKind = (typeof MAPPING_FINDING_KINDS)[number];

export interface MappingFinding extends ConfigProblem {
  readonly kind: MappingFindingKind;
}

/** The KB number an installer's file name carries (`SQLServer2019-KB5046859-x64.exe` → `5046859`), or null. */
export function kbOfFileName(fileName: string): string | null {
  return /(?:^|[^A-Za-z0-9])KB(\d{5,8})(?!\d)/i.exec(fileName)?.[1] ?? null;
}

function key3(build: BuildNumber): readonly [number, number, number] {
  return [build.parts[0], build.parts[1], build.parts[2]];
}

function describe(entry: CatalogEntry): string {
  const kb = kbText(entry);
  return `${entry.name} (${entry.key}${kb ? `, ${kb}` : ''}${entry.releaseDate ? `, released ${entry.releaseDate}` : ''})`;
}

interface Indexed {
  readonly index: number;
  readonly family: string;
  readonly edition: string;
  readonly min: BuildNumber;
  readonly target: BuildNumber;
  readonly targetEntry: CatalogEntry | undefined;
}

export function checkMapping(mapping: MappingFile, catalog: BuildCatalog, file: string): MappingFinding[] {
  const findings: MappingFinding[] = [];
  const add = (kind: MappingFindingKind, path: string, message: string) => findings.push({ kind, file, path, message });
  const indexed: Indexed[] = [];
  mapping.mappings.forEach((m, index) => {
    const min = parseBuild(m.min_build);
    const target = parseBuild(m.target_build);
    if (!min || !target) return;
    const targetEntry = catalog.lookup(target.parts);
    indexed.push({ index, family: normalizeFamilyName(m.version_family), edition: (m.edition_filter ?? '').trim().toLowerCase(), min, target, targetEntry });
    const at = `mappings[${index}]`;
    if (!targetEntry) {
      const release = catalog.releaseNameOf(target.parts[0], target.parts[1]);
      add(
        'unknown_target',
        `${at}.target_build`,
        `${target.text} is not a build the catalog knows${release ? ` for ${release}` : ''} (catalog last updated ${catalog.lastUpdated.slice(0, 10)}): check the number, or bring a newer reference with --update-catalog FILE`,
      );
    } else if (targetEntry.retired) {
      add('retired_target', `${at}.target_build`, `${target.text} is ${describe(targetEntry)}, an update Microsoft retired (pulled): choose another target`);
    }
    if (targetEntry) findings.push(...installerFindings(m.files, at, target, targetEntry, catalog, file));
  });

  const families = new Map<string, Indexed[]>();
  for (const m of indexed) {
    const list = families.get(m.family);
    if (list) list.push(m);
    else families.set(m.family, [m]);
  }
  for (const list of families.values()) {
    findings.push(...newerFindings(list, catalog, file));
    findings.push(...gapFindings(list, catalog, file));
  }
  return findings;
}

function installerFindings(
  files: MappingFile['mappings'][number]['files'],
  at: string,
  target: BuildNumber,
  targetEntry: CatalogEntry,
  catalog: BuildCatalog,
  file: string,
): MappingFinding[] {
  const findings: MappingFinding[] = [];
  const lastOrder = Math.max(...files.map((f) => f.order));
  files.forEach((f, j) => {
    const kb = kbOfFileName(f.filename);
    if (kb === null || targetEntry.kbs.includes(kb)) return;
    const builds = catalog.byKnowledgeBase(kb);
    // An earlier installer of the entry may be the base the last one needs (a service pack, a CU).
    const isBase =
      f.order !== lastOrder &&
      builds.some((b) => b.parts[0] === targetEntry.parts[0] && b.parts[1] === targetEntry.parts[1] && compareKeys(b.parts, targetEntry.parts) < 0);
    if (isBase) return;
    const what = builds.length > 0 ? `which is ${builds.map(describe).join(' and ')}` : 'which the catalog does not know';
    findings.push({
      kind: 'installer_kb',
      file,
      path: `${at}.files[${j}]`,
      message: `${f.filename} carries KB${kb}, ${what}; target_build ${target.text} is ${describe(targetEntry)}`,
    });
  });
  return findings;
}

function newerFindings(list: readonly Indexed[], catalog: BuildCatalog, file: string): MappingFinding[] {
  const highest = list.reduce((a, b) => (compareKeys(key3(b.target), key3(a.target)) > 0 ? b : a));
  const [major, minor] = highest.target.parts;
  const release = catalog.releaseNameOf(major, minor);
  const at = `mappings[${highest.index}]`;
  const newestCu = catalog.newestCuOfRelease(major, minor);
  const reached = highest.targetEntry ? ` (${highest.targetEntry.name})` : '';
  if (newestCu && compareKeys(newestCu.parts, key3(highest.target)) > 0) {
    return [
      {
        kind: 'newer_cu',
        file,
        path: at,
        message: `${release}: the catalog knows ${describe(newestCu)}, newer than the highest target_build ${highest.target.text}${reached}`,
      },
    ];
  }
  const onLevel = highest.targetEntry;
  if (!onLevel) return [];
  const newer = catalog
    .releaseEntries(major, minor)
    .filter((e) => !e.retired && e.level === onLevel.level && e.cu === onLevel.cu && compareKeys(e.parts, onLevel.parts) > 0);
  const pick = newestUpdate(newer);
  if (!pick) return [];
  return [
    {
      kind: 'newer_update',
      file,
      path: at,
      message: `${release}: the catalog knows ${describe(pick)}, a newer update for the same level as the highest target_build ${highest.target.text}${reached}`,
    },
  ];
}

/**
 * The newest of several updates on one level: the latest release date, and of those released the
 * same day the lowest build (2016 SP3's GDR and Azure Connect branches ship on the same Tuesday; the
 * nearer branch is the one a GDR instance takes). Without dates, the highest build.
 */
function newestUpdate(entries: readonly CatalogEntry[]): CatalogEntry | null {
  const dated = entries.filter((e) => e.releaseDate !== null);
  if (dated.length === 0) return entries.reduce<CatalogEntry | null>((a, b) => (!a || compareKeys(b.parts, a.parts) > 0 ? b : a), null);
  return dated.reduce((a, b) => {
    if (b.releaseDate! > a.releaseDate!) return b;
    if (b.releaseDate === a.releaseDate && compareKeys(b.parts, a.parts) < 0) return b;
    return a;
  });
}

/** Builds of the release between the lowest min_build and the highest target_build that no range covers. */
function gapFindings(list: readonly Indexed[], catalog: BuildCatalog, file: string): MappingFinding[] {
  const findings: MappingFinding[] = [];
  const seen = new Set<string>();
  // An instance of a filtered edition is covered by its filter's mappings and the unfiltered ones.
  const editions = [...new Set(list.map((m) => m.edition))];
  for (const edition of editions) {
    const group = list.filter((m) => m.edition === '' || m.edition === edition);
    if (edition !== '' && group.every((m) => m.edition === '')) continue;
    const lowest = group.reduce((a, b) => (compareKeys(key3(b.min), key3(a.min)) < 0 ? b : a));
    const highest = group.reduce((a, b) => (compareKeys(key3(b.target), key3(a.target)) > 0 ? b : a));
    const [major, minor] = highest.target.parts;
    const covered = (e: CatalogEntry) => group.some((m) => compareKeys(key3(m.min), e.parts) <= 0 && compareKeys(e.parts, key3(m.target)) < 0);
    const inside = catalog
      .releaseEntries(major, minor)
      .filter((e) => compareKeys(e.parts, key3(lowest.min)) >= 0 && compareKeys(e.parts, key3(highest.target)) < 0);
    let span: CatalogEntry[] = [];
    const flush = () => {
      if (span.length === 0) return;
      const first = span[0]!;
      const last = span[span.length - 1]!;
      const before = group
        .filter((m) => compareKeys(key3(m.target), first.parts) <= 0)
        .reduce<Indexed | null>((a, b) => (!a || compareKeys(key3(b.target), key3(a.target)) > 0 ? b : a), null);
      const after = group
        .filter((m) => compareKeys(key3(m.min), last.parts) > 0)
        .reduce<Indexed | null>((a, b) => (!a || compareKeys(key3(b.min), key3(a.min)) < 0 ? b : a), null);
      const anchor = before ?? after ?? lowest;
      const range = first === last ? `build ${first.key}` : `builds ${first.key}–${last.key}`;
      const sides = [
        before ? `after mappings[${before.index}] (target_build ${before.target.text})` : null,
        after ? `before mappings[${after.index}] (min_build ${after.min.text})` : null,
      ].filter(Boolean);
      const names = span.length <= 3 ? span.map((e) => e.name).join(', ') : `${first.name} … ${last.name}`;
      const message = `no mapping covers ${first.releaseName} ${range} (${span.length} known build${span.length === 1 ? '' : 's'}: ${names})${sides.length ? ` ${sides.join(', ')}` : ''}${edition ? ` for edition ${edition}` : ''}: an instance there gets no_mapping`;
      if (!seen.has(message)) {
        seen.add(message);
        findings.push({ kind: 'coverage_gap', file, path: `mappings[${anchor.index}]`, message });
      }
      span = [];
    };
    for (const e of inside) {
      if (covered(e)) flush();
      else span.push(e);
    }
    flush();
  }
  return findings;
}
