import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonChunks } from '../../src/cli/jsonChunks.js';
import { mappingFileSchema } from '../../src/config/schemas.js';
import { buildPlan } from '../../src/plan/planner.js';

const joined = (value: Readonly<Record<string, unknown>>, chunkChars?: number) => [...jsonChunks(value, chunkChars)].join('');

describe('jsonChunks', () => {
  it('writes a plan exactly as JSON.stringify(plan, null, 2), in pieces', () => {
    const mapping = mappingFileSchema.parse({
      schema_version: 1,
      mappings: [
        {
          version_family: '2019',
          min_build: '15.0.2000.5',
          target_build: '15.0.4298.1',
          description: 'CU19',
          files: [{ filename: 'CU19.exe', path: 'hotfixes/2019/', order: 1, parameters: '/quiet' }],
        },
        {
          version_family: '2019',
          min_build: '15.0.4298.1',
          target_build: '15.0.4395.2',
          description: 'CU30',
          files: [
            { filename: 'CU30.exe', path: 'hotfixes/2019/', order: 1, parameters: '/quiet' },
            { filename: 'CU30b.exe', path: 'hotfixes/2019/', order: 2, required: false },
          ],
        },
      ],
      unsupported_versions: [{ version_family: '2008R2' }],
    });
    const versions = ['15.0.2000.5', '15.0.4298.1', '15.0.4395.2', '10.50.6000.34', '14.0.1000.169', 'not a build', null];
    const inventory = versions.map((version, i) => ({
      server: `SQL${i % 3}`,
      instance: `I${i}`,
      version,
      edition: 'Standard Edition (64-bit)',
      reachable: i !== 5,
      transport: 'winrm' as const,
    }));
    const { plan } = buildPlan({ mapping, inventory, root: '/srv/autodbaudit' });
    expect(plan.targets.some((t) => t.message.includes('→'))).toBe(true);
    const expected = JSON.stringify(plan, null, 2);
    for (const size of [1, 100, 1 << 16]) expect(joined(plan as unknown as Record<string, unknown>, size)).toBe(expected);
    expect(joined({ targets: [], summary: plan.summary })).toBe(JSON.stringify({ targets: [], summary: plan.summary }, null, 2));
  });

  it('matches JSON.stringify for any object of JSON values and arrays', () => {
    const member = fc.oneof(fc.jsonValue(), fc.array(fc.oneof(fc.jsonValue(), fc.constant(undefined))), fc.constant(undefined));
    fc.assert(
      fc.property(fc.dictionary(fc.string(), member), fc.integer({ min: 1, max: 64 }), (value, size) => {
        expect(joined(value, size)).toBe(JSON.stringify(value, null, 2));
      }),
    );
  });
});
