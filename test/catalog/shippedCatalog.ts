import { readFileSync } from 'node:fs';
import { BuildCatalog } from '../../src/catalog/catalog.js';
import { type CatalogFile, catalogFileSchema } from '../../src/catalog/catalogFile.js';

/** The catalog the tool ships, read from the source tree. */
export function shippedCatalogFile(): CatalogFile {
  return catalogFileSchema.parse(JSON.parse(readFileSync(new URL('../../src/catalog/build-catalog.json', import.meta.url), 'utf8')));
}

export function shippedCatalog(): BuildCatalog {
  return new BuildCatalog(shippedCatalogFile());
}
