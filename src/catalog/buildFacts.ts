import type { Plan, PlanTarget } from '../plan/types.js';
import { parseBuild } from '../sqlserver/buildNumber.js';
import type { BuildCatalog, CatalogEntry } from './catalog.js';
import type { BuildFacts, CuFacts } from './facts.js';

export function kbText(entry: CatalogEntry): string | null {
  return entry.kbs[0] ? `KB${entry.kbs[0]}` : null;
}

export function cuFacts(entry: CatalogEntry): CuFacts {
  return { name: entry.name, build: entry.key, kb: kbText(entry), release_date: entry.releaseDate };
}

/** The facts of one build; `today` (`YYYY-MM-DD`) decides whether its support has ended. */
export function describeBuild(catalog: BuildCatalog, buildText: string, today: string): BuildFacts | null {
  const build = parseBuild(buildText);
  if (!build) return null;
  const entry = catalog.lookup(build.parts);
  if (!entry) {
    return {
      build: buildText,
      known: false,
      release: catalog.releaseNameOf(build.parts[0], build.parts[1]),
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
    build: buildText,
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
 * The plan with each target's build facts under `catalog`: every key the planner wrote stays as it
 * was. Facts are worked out once per distinct build and shared, so a fleet of thousands on a few
 * dozen builds costs a few dozen look-ups.
 */
export function annotatePlan(plan: Plan, catalog: BuildCatalog, today: string): Plan {
  const memo = new Map<string, BuildFacts | null>();
  const facts = (build: string | null): BuildFacts | null => {
    if (build === null) return null;
    let found = memo.get(build);
    if (found === undefined) {
      found = describeBuild(catalog, build, today);
      memo.set(build, found);
    }
    return found;
  };
  const targets = plan.targets.map(
    (t): PlanTarget => ({ ...t, catalog: { current: facts(t.current_build), target: facts(t.target_build) } }),
  );
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
