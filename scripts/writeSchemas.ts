// Regenerates schemas/*.schema.json from the zod definitions in src/config/schemas.ts.
// A test fails when the committed files differ from what this writes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { jsonSchemaFiles } from '../src/config/jsonSchema.js';

const dir = new URL('../schemas/', import.meta.url);
mkdirSync(dir, { recursive: true });
for (const [name, text] of Object.entries(jsonSchemaFiles())) {
  writeFileSync(new URL(name, dir), text);
  process.stdout.write(`wrote schemas/${name}\n`);
}
