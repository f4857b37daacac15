import { buildFactsLookup } from '../catalog/buildFacts.js';
import type { BuildCatalog } from '../catalog/catalog.js';
import type { BuildFacts } from '../catalog/facts.js';
import type { ReportTarget } from './runData.js';

/** One row of the workbook's Builds sheet: where a target's build and its target build stand. */
export interface BuildRow {
  readonly server: string;
  readonly instance: string;
  /** The build after the run (the post-check's), or before it when the post-check has none. */
  readonly build: string | null;
  readonly current: BuildFacts | null;
  readonly targetBuild: string | null;
  readonly target: BuildFacts | null;
}

/** The catalog's facts for every target of a run; `today` (`YYYY-MM-DD`) decides ended support. */
export function buildRows(targets: readonly ReportTarget[], catalog: BuildCatalog, today: string): BuildRow[] {
  const facts = buildFactsLookup(catalog, today);
  return targets.map((t) => {
    const build = t.postBuild ?? t.preBuild;
    return { server: t.server, instance: t.instance, build, current: facts(build), targetBuild: t.targetBuild, target: facts(t.targetBuild) };
  });
}
