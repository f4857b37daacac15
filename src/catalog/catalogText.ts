import type { CatalogFile } from './catalogFile.js';

/** A catalog file as the tool writes it: its header indented, then one build per line, for readable diffs. */
export function catalogFileText(file: CatalogFile): string {
  const { builds, ...header } = file;
  const head = JSON.stringify(header, null, 2).replace(/\n}$/, '');
  return `${head},\n  "builds": [\n${builds.map((b) => `    ${JSON.stringify(b)}`).join(',\n')}\n  ]\n}\n`;
}
