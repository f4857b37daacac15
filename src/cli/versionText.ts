import { readShippedCatalogText } from '../config/buildCatalog.js';
import { VERSION } from '../version.js';

/** What `--version --json` prints. */
export interface VersionJson {
  readonly version: string;
  /** The Node.js release running the tool (the one embedded in AutoDBAudit.exe there). */
  readonly node: string;
  /** `last_updated` of the build catalog shipped with this release (YYYY-MM-DD). */
  readonly catalog_last_updated: string;
}

/**
 * `--version`: answers without a configuration, a history database or node:sqlite, so an operator
 * can always tell which release (and which catalog) a machine runs.
 */
export function versionJson(): VersionJson {
  const catalog = JSON.parse(readShippedCatalogText()) as { last_updated?: unknown };
  const lastUpdated = typeof catalog.last_updated === 'string' ? catalog.last_updated.slice(0, 10) : 'unknown';
  return { version: VERSION, node: process.versions.node, catalog_last_updated: lastUpdated };
}

export function versionText(json: boolean): string {
  if (!json) return `${VERSION}\n`;
  return `${JSON.stringify(versionJson())}\n`;
}
