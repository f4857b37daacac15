import { type BuildNumber, parseBuild } from '../sqlserver/buildNumber.js';
import { type BuildCatalog, type CatalogEntry, compareKeys } from './catalog.js';
import { kbText } from './buildFacts.js';
import { kbOfFileName } from './mappingChecks.js';

/*
 * `--suggest-mapping`: from the installers present (a KB in each file name), the catalog and the
 * fleet's recorded builds, the mapping entries that would bring each release to its newest installer,
 * chained through the base update an installer needs when the catalog says one is needed:
 * a CU needs its service pack; a security update on a CU (CU + GDR) needs that CU; a GDR on a
 * service pack needs the service pack. Pure: the caller finds the files and prints the result.
 */

/** An installer found on disk. */
export interface FoundInstaller {
  readonly fileName: string;
  /** Its folder as the mapping writes it: relative to root, forward slashes, trailing slash (`hotfixes/2019/`). */
  readonly folder: string;
}

/** A mapping entry in the mapping file's format (schema_version 1). */
export interface SuggestedMapping {
  readonly version_family: string;
  readonly edition_filter: null;
  readonly min_build: string;
  readonly target_build: string;
  readonly description: string;
  readonly files: readonly {
    readonly filename: string;
    readonly path: string;
    readonly order: number;
    readonly required: boolean;
    readonly parameters: string;
  }[];
  readonly requires_restart: boolean;
}

export interface MappingSuggestion {
  readonly mappings: readonly SuggestedMapping[];
  /** What the operator should know: installers skipped, bases missing, releases with nothing to do. */
  readonly notes: readonly string[];
}

export const PATCH_PARAMETERS = '/quiet /IAcceptSQLServerLicenseTerms /Action=Patch /AllInstances';

interface Located {
  readonly installer: FoundInstaller;
  readonly entry: CatalogEntry;
}

/** The build that must be in place before `entry` can be installed, or null when none is. */
export function baseUpdateOf(entry: CatalogEntry, catalog: BuildCatalog): CatalogEntry | null {
  if (entry.kind === 'service_pack' || entry.kind === 'pre_release' || entry.level === null) return null;
  const release = catalog.releaseEntries(entry.parts[0], entry.parts[1]);
  if (entry.kind === 'update' && entry.cu !== null) {
    return release.find((e) => e.kind === 'cumulative_update' && e.level === entry.level && e.cu === entry.cu) ?? null;
  }
  // A CU, or a GDR without CU, goes on its service pack; RTM is the installed product itself.
  if (entry.level === 'RTM') return null;
  return release.find((e) => e.kind === 'service_pack' && e.level === entry.level) ?? null;
}

/** `15.0.4430` → `15.0.4430.0`: the catalog knows three parts; an instance there reports at least this. */
function fourParts(entry: CatalogEntry): string {
  return `${entry.key}.0`;
}

function key3(b: BuildNumber): readonly [number, number, number] {
  return [b.parts[0], b.parts[1], b.parts[2]];
}

export function suggestMapping(installers: readonly FoundInstaller[], catalog: BuildCatalog, fleetBuilds: readonly string[]): MappingSuggestion {
  const notes: string[] = [];
  const byRelease = new Map<string, Located[]>();
  for (const installer of installers) {
    const kb = kbOfFileName(installer.fileName);
    if (kb === null) {
      const malformed = /(?:^|[^A-Za-z0-9])(KB\d+)/i.exec(installer.fileName)?.[1];
      notes.push(
        malformed
          ? `${installer.folder}${installer.fileName}: ${malformed} is not a Microsoft KB number (KB followed by 5 to 8 digits); skipped`
          : `${installer.folder}${installer.fileName}: no KB number in the file name; skipped`,
      );
      continue;
    }
    const entries = catalog.byKnowledgeBase(kb);
    const entry = entries.reduce<CatalogEntry | null>((a, b) => (!a || compareKeys(b.parts, a.parts) > 0 ? b : a), null);
    if (!entry) {
      notes.push(`${installer.folder}${installer.fileName}: KB${kb} is not in the build catalog (last updated ${catalog.lastUpdated.slice(0, 10)}); skipped`);
      continue;
    }
    if (entry.retired) {
      notes.push(`${installer.folder}${installer.fileName}: KB${kb} is ${entry.name} (${entry.key}), an update Microsoft retired; skipped`);
      continue;
    }
    const key = `${entry.parts[0]}.${entry.parts[1]}`;
    const list = byRelease.get(key);
    if (list) list.push({ installer, entry });
    else byRelease.set(key, [{ installer, entry }]);
  }

  const fleet = fleetBuilds.map((b) => parseBuild(b)).filter((b): b is BuildNumber => b !== null);
  const mappings: SuggestedMapping[] = [];
  const releases = [...byRelease.values()].sort((a, b) => compareKeys(b[0]!.entry.parts, a[0]!.entry.parts));
  for (const located of releases) {
    const newest = located.reduce((a, b) => (compareKeys(b.entry.parts, a.entry.parts) > 0 ? b : a));
    const [major, minor] = newest.entry.parts;
    const below = fleet
      .filter((b) => b.parts[0] === major && b.parts[1] === minor && compareKeys(key3(b), newest.entry.parts) < 0)
      .sort((a, b) => compareKeys(key3(a), key3(b)));
    const lowest = below[0];
    if (!lowest) {
      notes.push(`${newest.entry.releaseName}: no recorded instance is below ${newest.entry.name} (${newest.entry.key}); nothing to suggest`);
      continue;
    }
    const hops: { min: string; to: Located }[] = [];
    let to = newest;
    for (;;) {
      const base = baseUpdateOf(to.entry, catalog);
      if (!base || compareKeys(key3(lowest), base.parts) >= 0) {
        hops.unshift({ min: lowest.text, to });
        break;
      }
      const baseInstaller = located.find((l) => l.entry.key === base.key);
      hops.unshift({ min: fourParts(base), to });
      if (!baseInstaller) {
        notes.push(
          `${to.entry.name} (${to.installer.fileName}) needs ${base.name} (${kbText(base) ?? base.key}) first; no installer for it was found, so instances below ${base.key} (from ${lowest.text}) stay without a mapping until it is added`,
        );
        break;
      }
      to = baseInstaller;
    }
    for (const hop of hops) {
      mappings.push({
        version_family: hop.to.entry.release,
        edition_filter: null,
        min_build: hop.min,
        target_build: fourParts(hop.to.entry),
        description: `${hop.to.entry.name}${kbText(hop.to.entry) ? ` (${kbText(hop.to.entry)})` : ''}`,
        files: [{ filename: hop.to.installer.fileName, path: hop.to.installer.folder, order: 1, required: true, parameters: PATCH_PARAMETERS }],
        requires_restart: true,
      });
    }
  }
  return { mappings, notes };
}
