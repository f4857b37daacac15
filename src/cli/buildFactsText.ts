import type { BuildCatalog } from '../catalog/catalog.js';
import type { BuildFacts } from '../catalog/facts.js';
import { displayPath } from '../config/paths.js';

/** One line of a build's facts, as the plan text shows them under an instance. */
export function buildFactsText(facts: BuildFacts): string {
  if (!facts.known) {
    return `${facts.build} is not in the build catalog${facts.release ? ` (a ${facts.release} build it does not list)` : ''}: unknown`;
  }
  const parts = [facts.name ?? 'unknown', facts.kb ?? 'no KB'];
  parts.push(facts.release_date ? `released ${facts.release_date}` : 'release date unknown');
  if (facts.supported_until) parts.push(`${facts.support_ended ? 'support ended' : 'supported until'} ${facts.supported_until}`);
  if (facts.newest_cu && facts.cus_behind !== null) {
    parts.push(facts.cus_behind === 0 ? 'on the newest CU of its level' : `${facts.cus_behind} CU${facts.cus_behind === 1 ? '' : 's'} behind ${shortCu(facts.newest_cu.name)} (${facts.newest_cu.kb ?? 'no KB'})`);
  }
  if (facts.newer_level) parts.push(`${facts.newer_level} is newer`);
  if (facts.retired) parts.push('RETIRED by Microsoft');
  return parts.join(', ');
}

// "SQL Server 2016 SP2 CU17" → "SP2 CU17": the release is already on the line.
function shortCu(name: string): string {
  return name.replace(/^SQL Server \S+( R2)? /, '');
}

/** Where the plan's build facts come from, for its header: `build facts: dbatools build reference of 2026-07-16`. */
export function catalogSourceText(catalog: BuildCatalog, origin: string): string {
  return `build facts: ${catalog.source.name} of ${catalog.lastUpdated.slice(0, 10)}${origin === 'shipped' ? '' : ` (updated, ${displayPath(origin)})`}`;
}
