import type { Plan, PlanTarget } from '../plan/types.js';
import { parseBuild } from '../sqlserver/buildNumber.js';
import type { BuildCatalog, CatalogEntry } from './catalog.js';
import type { BuildFacts, CuFacts, TargetCatalogFacts } from './facts.js';

export function kbText(entry: CatalogEntry): string | null {
  return entry.kbs[0] ? `KB${entry.kbs[0]}` : null;
}

export function cuFacts(entry: CatalogEntry): CuFacts {
  return { name: entry.name, build: entry.key, kb: kbText(entry), release_date: entry.releaseDate };
}

/** The facts of one build; `today` (`YYYY-MM-DD`) decides whether its support has ended. */
export function describeBuild(catalog: BuildCatalog, buildText: string, today: string): BuildFacts | null {
  const build = parseBuild(buildText);
  return build ? factsOf(catalog, build.parts, today) : null;
}

function factsOf(catalog: BuildCatalog, parts: readonly number[], today: string): BuildFacts {
  const entry = catalog.lookup(parts);
  if (!entry) {
    return {
      build: `${parts[0]}.${parts[1]}.${parts[2]}`,
      known: false,
      release: catalog.releaseNameOf(parts[0]!, parts[1]!),
      name: null,
      level: null,
      cu: null,
      kb: null,
      release_date: null,
      supported_until: null,
      support_ended: null,
      retired: null,
      cus_behind: null,
      newest_cu: null,
      newer_level: null,
    };
  }
  const newest = catalog.newestCuOfLevel(entry);
  return {
    build: entry.key,
    known: true,
    release: entry.releaseName,
    name: entry.name,
    level: entry.level,
    cu: entry.cu,
    kb: kbText(entry),
    release_date: entry.releaseDate,
    supported_until: entry.supportedUntil,
    support_ended: entry.supportedUntil === null ? null : entry.supportedUntil < today,
    retired: entry.retired,
    cus_behind: catalog.cusBehind(entry),
    newest_cu: newest ? cuFacts(newest) : null,
    newer_level: catalog.newerLevel(entry),
  };
}

/**
 * Facts by build text, each worked out once: the facts of a three-part build are one shared
 * (read-only) object, so a fleet of thousands on a few dozen builds costs a few dozen look-ups.
 */
export function buildFactsLookup(catalog: BuildCatalog, today: string): (build: string | null) => BuildFacts | null {
  const byText = new Map<string, BuildFacts | null>();
  const byKey = new Map<string, BuildFacts>();
  return (text) => {
    if (text === null) return null;
    let found = byText.get(text);
    if (found === undefined) {
      const build = parseBuild(text);
      if (build) {
        const key = `${build.parts[0]}.${build.parts[1]}.${build.parts[2]}`;
        found = byKey.get(key);
        if (!found) {
          found = factsOf(catalog, build.parts, today);
          byKey.set(key, found);
        }
      } else found = null;
      byText.set(text, found);
    }
    return found;
  };
}

/** The plan with each target's build facts under `catalog`: every key the planner wrote stays as it was. */
export function annotatePlan(plan: Plan, catalog: BuildCatalog, today: string): Plan {
  const facts = buildFactsLookup(catalog, today);
  // Targets on the same pair of builds share one (read-only) facts object.
  const pairs = new Map<BuildFacts | null, Map<BuildFacts | null, TargetCatalogFacts>>();
  const pairOf = (current: BuildFacts | null, target: BuildFacts | null): TargetCatalogFacts => {
    let byTarget = pairs.get(current);
    if (!byTarget) {
      byTarget = new Map();
      pairs.set(current, byTarget);
    }
    let pair = byTarget.get(target);
    if (!pair) {
      pair = { current, target };
      byTarget.set(target, pair);
    }
    return pair;
  };
  const targets = plan.targets.map((t): PlanTarget => ({ ...t, catalog: pairOf(facts(t.current_build), facts(t.target_build)) }));
  return { ...plan, targets };
}

/** Days after its last update from which a catalog is called stale: Microsoft ships a CU about every two months. */
export const STALE_AFTER_DAYS = 60;

/** A warning when the catalog is older than STALE_AFTER_DAYS on `today`, else null. */
export function staleCatalogWarning(catalog: BuildCatalog, today: string): string | null {
  const updated = catalog.lastUpdated.slice(0, 10);
  const days = Math.floor((Date.parse(`${today}T00:00:00Z`) - Date.parse(`${updated}T00:00:00Z`)) / 86_400_000);
  if (!(days > STALE_AFTER_DAYS)) return null;
  return `the build catalog was last updated ${updated} (${days} days ago): updates released since are unknown to it; bring a current dbatools-buildref-index.json and run --update-catalog FILE`;
}
