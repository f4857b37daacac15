import { staleCatalogWarning } from '../catalog/buildFacts.js';
import { checkMapping, type MappingFindingKind } from '../catalog/mappingChecks.js';
import { loadBuildCatalog } from '../config/buildCatalog.js';
import { updateBuildCatalog } from '../config/catalogUpdate.js';
import { displayPath } from '../config/paths.js';
import { loadConfigOrThrow } from '../deploy/preparePlan.js';
import { formatProblem } from '../errors.js';
import { EXIT } from './exitCodes.js';
import type { CliOptions } from './options.js';

/** What `--check-mapping --json` prints. */
export interface CheckMappingJson {
  readonly mapping: string;
  readonly catalog: { readonly last_updated: string; readonly origin: string };
  readonly findings: readonly { readonly kind: MappingFindingKind; readonly file: string; readonly path: string; readonly message: string }[];
}

/** `--check-mapping`: what the build catalog says about the mapping file. Exit 0 when nothing, 1 when findings. */
export async function checkMappingCommand(options: CliOptions): Promise<number> {
  const config = loadConfigOrThrow(options.config);
  const loaded = await loadBuildCatalog(config);
  for (const warning of [...config.warnings, ...loaded.warnings]) process.stderr.write(`warning: ${warning}\n`);
  const stale = staleCatalogWarning(loaded.catalog, new Date().toISOString().slice(0, 10));
  if (stale) process.stderr.write(`warning: ${stale}\n`);
  const mappingName = displayPath(config.files.mapping);
  const findings = checkMapping(config.mapping, loaded.catalog, mappingName);
  const origin = loaded.origin === 'shipped' ? 'shipped' : displayPath(loaded.origin);
  if (options.json) {
    const out: CheckMappingJson = {
      mapping: mappingName,
      catalog: { last_updated: loaded.catalog.lastUpdated, origin },
      findings: findings.map(({ kind, file, path, message }) => ({ kind, file, path, message })),
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    for (const f of findings) process.stdout.write(`${formatProblem(f)}\n`);
    const catalogText = `the build catalog of ${loaded.catalog.lastUpdated.slice(0, 10)} (${origin})`;
    process.stdout.write(
      findings.length === 0
        ? `${mappingName}: no findings against ${catalogText}\n`
        : `${findings.length} finding${findings.length === 1 ? '' : 's'} in ${mappingName} against ${catalogText}\n`,
    );
  }
  return findings.length === 0 ? EXIT.ok : EXIT.targetsFailed;
}

/** `--update-catalog FILE`: replaces the build catalog from a dbatools reference file when it is newer. */
export async function updateCatalogCommand(options: CliOptions, file: string): Promise<number> {
  const config = loadConfigOrThrow(options.config);
  const update = await updateBuildCatalog(config, file, new Date());
  const where = displayPath(update.path);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ updated: update.updated, previous: update.previous, offered: update.offered, builds: update.builds, path: update.updated ? where : null })}\n`);
  } else if (update.updated) {
    process.stdout.write(`Build catalog updated: ${update.builds} builds, last updated ${update.offered} (was ${update.previous}); stored in ${where}\n`);
  } else {
    process.stdout.write(`Build catalog unchanged: ${file} was last updated ${update.offered}, not newer than the catalog in use (${update.previous})\n`);
  }
  return EXIT.ok;
}
