// Regenerates the shipped build catalog (src/catalog/build-catalog.json) from dbatools' build
// reference: by default the copy in scripts/catalog/, or the file named on the command line.
//   npm run catalog [-- path/to/dbatools-buildref-index.json]
// A test fails when the committed catalog differs from what this writes from scripts/catalog/.
import { readFileSync, writeFileSync } from 'node:fs';
import { catalogFileText } from '../src/catalog/catalogText.js';
import { catalogFromIndex, dbatoolsIndexSchema, indexProblems } from '../src/catalog/dbatoolsIndex.js';

const source = process.argv[2] ?? new URL('./catalog/dbatools-buildref-index.json', import.meta.url).pathname;
const index = dbatoolsIndexSchema.parse(JSON.parse(readFileSync(source, 'utf8')));
const problems = indexProblems(index);
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`${source}: ${p.path}: ${p.message}\n`);
  process.exit(2);
}
const target = new URL('../src/catalog/build-catalog.json', import.meta.url);
writeFileSync(target, catalogFileText(catalogFromIndex(index)));
process.stdout.write(`wrote src/catalog/build-catalog.json: ${index.Data.length} builds, last updated ${index.LastUpdated}\n`);
