import { existsSync } from 'node:fs';
import { suggestMapping } from '../catalog/suggestMapping.js';
import { loadBuildCatalog } from '../config/buildCatalog.js';
import { displayPath, resolveUserPath } from '../config/paths.js';
import { mappingFileSchema } from '../config/schemas.js';
import { loadConfigOrThrow, openHistoryFor } from '../deploy/preparePlan.js';
import { scanHotfixFolder } from '../inventory/hotfixFolder.js';
import { mergeTargets } from '../inventory/targets.js';
import { activeServers, type ServerRow } from '../store/servers.js';
import { EXIT } from './exitCodes.js';
import type { CliOptions } from './options.js';

/**
 * `--suggest-mapping`: prints, as a mapping file, the entries that would bring each release of the
 * fleet to the newest installer under `<root>/hotfixes/`. Writes nothing: the operator reviews the
 * entries and copies them into hotfix_mapping.json. Notes go to stderr.
 */
export async function suggestMappingCommand(options: CliOptions): Promise<number> {
  const config = loadConfigOrThrow(options.config);
  const loaded = await loadBuildCatalog(config);
  for (const warning of [...config.warnings, ...loaded.warnings]) process.stderr.write(`warning: ${warning}\n`);
  const hotfixes = resolveUserPath(config.root, 'hotfixes');
  const scan = existsSync(hotfixes) ? scanHotfixFolder(hotfixes) : { installers: [], notes: [] };
  for (const note of scan.notes) process.stderr.write(`note: ${note}\n`);
  const installers = scan.installers;
  if (installers.length === 0) process.stderr.write(`note: no installer found under ${displayPath(hotfixes)}\n`);
  // Reading must not create an empty history.db where there was none.
  let rows: ServerRow[] = [];
  if (existsSync(config.historyDbPath)) {
    const db = openHistoryFor(config);
    try {
      rows = activeServers(db);
    } finally {
      db.close();
    }
  }
  const fleet = mergeTargets(config, rows)
    .map((t) => t.recordedVersion)
    .filter((v): v is string => v !== null);
  const suggestion = suggestMapping(installers, loaded.catalog, fleet);
  for (const note of suggestion.notes) process.stderr.write(`note: ${note}\n`);
  const file = { schema_version: 1, mappings: suggestion.mappings };
  // What is printed must load as a mapping file: checked here, not left to the operator.
  mappingFileSchema.parse(file);
  process.stdout.write(`${JSON.stringify(file, null, 2)}\n`);
  return EXIT.ok;
}
