import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { catalogFileSchema } from '../catalog/catalogFile.js';
import { catalogFileText } from '../catalog/catalogText.js';
import { catalogFromIndex, dbatoolsIndexSchema, indexProblems } from '../catalog/dbatoolsIndex.js';
import { ConfigError } from '../errors.js';
import { readBoundedText } from './boundedFile.js';
import { dateValue, FUTURE_TOLERANCE_MS, loadBuildCatalog, parseJson, storedCatalogPath, validate } from './buildCatalog.js';
import type { Config } from './load.js';
import { displayPath } from './paths.js';
import { problemsFromZod } from './problems.js';

export interface CatalogUpdate {
  readonly updated: boolean;
  /** The last update date of the catalog in use before. */
  readonly previous: string;
  /** The file's `LastUpdated`. */
  readonly offered: string;
  /** Where the replacement was written (when updated). */
  readonly path: string;
  readonly builds: number;
}

/**
 * `--update-catalog FILE`: reads a file in dbatools' index format, validates it, and stores it as the
 * catalog when its LastUpdated is newer than the catalog in use. Throws a ConfigError naming the
 * file and each field when the file is not a valid reference; nothing is written then.
 */
export async function updateBuildCatalog(config: Pick<Config, 'outputDir'>, file: string, now: Date, cwd: string = process.cwd()): Promise<CatalogUpdate> {
  const absolute = path.resolve(cwd, file);
  const name = displayPath(absolute, cwd);
  let text: string;
  try {
    const read = readBoundedText(absolute, "dbatools' build reference file");
    if (typeof read !== 'string') throw new ConfigError([{ file: name, path: '', message: read.problem }]);
    text = read;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot be read (${String(error)})`;
    throw new ConfigError([{ file: name, path: '', message: reason }]);
  }
  const json = parseJson(text, name);
  if (!json.ok) throw new ConfigError(json.problems);
  const index = validate(json.value, dbatoolsIndexSchema, name);
  if (!index.ok) throw new ConfigError(index.problems);
  const semantic = indexProblems(index.value);
  if (semantic.length > 0) throw new ConfigError(semantic.map((p) => ({ file: name, ...p })));
  const offered = dateValue(index.value.LastUpdated);
  if (Number.isNaN(offered)) {
    throw new ConfigError([{ file: name, path: 'LastUpdated', message: `not a date: ${JSON.stringify(index.value.LastUpdated)}` }]);
  }
  // Only a newer catalog replaces the one in use: a date in the future would keep every real update out.
  if (offered > now.getTime() + FUTURE_TOLERANCE_MS) {
    throw new ConfigError([
      {
        file: name,
        path: 'LastUpdated',
        message: `${index.value.LastUpdated} is in the future (today is ${now.toISOString().slice(0, 10)}); a reference cannot be newer than today: check the file's origin`,
      },
    ]);
  }

  const current = await loadBuildCatalog(config, now);
  const stored = storedCatalogPath(config);
  const result = { previous: current.catalog.lastUpdated, offered: index.value.LastUpdated, path: stored, builds: index.value.Data.length };
  if (dateValue(index.value.LastUpdated) <= dateValue(current.catalog.lastUpdated)) return { updated: false, ...result };

  const catalog = catalogFromIndex(index.value, { from: path.basename(absolute), at: now.toISOString() });
  // The conversion must give a catalog the loader accepts; checked before anything is written.
  const check = catalogFileSchema.safeParse(catalog);
  if (!check.success) throw new ConfigError(problemsFromZod(name, check.error));
  mkdirSync(path.dirname(stored), { recursive: true });
  const partial = `${stored}.partial`;
  try {
    writeFileSync(partial, catalogFileText(catalog));
    renameSync(partial, stored);
  } catch (error) {
    rmSync(partial, { force: true });
    throw new ConfigError([{ file: displayPath(stored, cwd), path: '', message: `cannot be written (${String(error)})` }], { cause: error });
  }
  return { updated: true, ...result };
}
