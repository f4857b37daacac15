import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { jsonSchemaFiles } from '../../src/config/jsonSchema.js';

describe('schemas/*.schema.json', () => {
  it.each(Object.entries(jsonSchemaFiles()))('%s is current (regenerate with npm run schemas)', (name, text) => {
    const committed = readFileSync(new URL(`../../schemas/${name}`, import.meta.url), 'utf8');
    expect(committed).toBe(text);
  });

  it('refuses unknown keys, as the loader does', () => {
    const schema = JSON.parse(jsonSchemaFiles()['hotfix_mapping.schema.json']!);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.mappings.items.additionalProperties).toBe(false);
    expect(schema.properties.mappings.items.properties.files.items.required).toEqual(['filename', 'order']);
  });
});
