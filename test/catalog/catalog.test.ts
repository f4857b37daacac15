import { describe, expect, it } from 'vitest';
import { describeBuild, staleCatalogWarning } from '../../src/catalog/buildFacts.js';
import { shippedCatalog } from './shippedCatalog.js';

const catalog = shippedCatalog();
const TODAY = '2026-11-29';

/** The facts of a build, as the plan prints them, in one line for compact tables. */
function line(build: string): string {
  const f = describeBuild(catalog, build, TODAY);
  if (!f) return 'not a build';
  if (!f.known) return `unknown (${f.release ?? 'release unknown'})`;
  return [f.name, f.kb ?? '-', f.release_date ?? '-', f.supported_until ?? '-', f.cus_behind ?? '-', f.newest_cu?.name ?? '-', f.retired ? 'retired' : ''].join(' | ').trimEnd();
}

describe('build facts: cases that build lists get wrong', () => {
  it.each([
    // A GDR on the RTM level released after every CU: newer by date, still 32 CUs behind.
    ['15.0.2180.1', 'SQL Server 2019 RTM GDR | KB5102336 | 2026-07-14 | 2030-01-08 | 32 | SQL Server 2019 CU32 |'],
    ['14.0.2120.1', 'SQL Server 2017 RTM GDR | KB5102338 | 2026-07-14 | 2027-10-12 | 31 | SQL Server 2017 CU31 |'],
    // A security update on a CU is that CU + GDR, as far behind as the CU.
    ['15.0.4390.2', 'SQL Server 2019 CU28 + GDR | KB5042749 | 2024-09-10 | 2030-01-08 | 4 | SQL Server 2019 CU32 |'],
    // The newest build of 2019 is a security update on its newest CU: 0 behind.
    ['15.0.4480.1', 'SQL Server 2019 CU32 + GDR | KB5102335 | 2026-07-14 | 2030-01-08 | 0 | SQL Server 2019 CU32 |'],
    // Released out of order: the CU27 security update (July 9) has a higher KB than CU28 (August 1).
    ['15.0.4382.1', 'SQL Server 2019 CU27 + GDR | KB5040948 | 2024-07-09 | 2030-01-08 | 5 | SQL Server 2019 CU32 |'],
    ['15.0.4385.2', 'SQL Server 2019 CU28 | KB5039747 | 2024-08-01 | 2030-01-08 | 4 | SQL Server 2019 CU32 |'],
    // A pulled update between a GDR and the CU that replaced it.
    ['16.0.4235.1', 'SQL Server 2022 CU22 + GDR | KB5074819 | - | 2033-01-11 | 4 | SQL Server 2022 CU26 | retired'],
    ['16.0.4236.2', 'SQL Server 2022 CU23 | KB5078297 | 2026-01-29 | 2033-01-11 | 3 | SQL Server 2022 CU26 |'],
    // A service pack's GDR listed before that service pack's first CU.
    ['13.0.5101.9', 'SQL Server 2016 SP2 GDR | KB4505220 | - | 2026-07-14 | 17 | SQL Server 2016 SP2 CU17 |'],
    ['13.0.6441.1', 'SQL Server 2016 SP3 GDR | KB5040946 | - | 2026-07-14 | 0 | - |'],
    ['13.0.5888.11', 'SQL Server 2016 SP2 CU17 | KB5001092 | - | 2026-07-14 | 0 | SQL Server 2016 SP2 CU17 |'],
    // SQL Server 2025: a retired update before CU1, CUs, and the RTM GDR branch.
    ['17.0.1000.7', 'SQL Server 2025 RTM | - | 2025-11-18 | 2036-01-06 | 7 | SQL Server 2025 CU7 |'],
    ['17.0.1125.1', 'SQL Server 2025 RTM GDR | KB5102333 | 2026-07-14 | 2036-01-06 | 7 | SQL Server 2025 CU7 |'],
    ['17.0.4005.7', 'SQL Server 2025 RTM GDR | KB5074901 | - | 2036-01-06 | 7 | SQL Server 2025 CU7 | retired'],
    ['17.0.4006.2', 'SQL Server 2025 CU1 | KB5078298 | 2026-01-29 | 2036-01-06 | 6 | SQL Server 2025 CU7 |'],
    ['17.0.4065.3', 'SQL Server 2025 CU7 | KB5096981 | 2026-07-16 | 2036-01-06 | 0 | SQL Server 2025 CU7 |'],
    // Older releases: builds without a label are "+ update" (the reference mixes hotfixes in).
    ['10.50.6560.0', 'SQL Server 2008 R2 SP3 + update | KB4057113 | - | 2019-07-09 | 0 | - |'],
    // Three-part and padded builds match on their first three parts.
    ['9.00.5000.00', 'SQL Server 2005 SP4 | KB2463332 | - | 2016-04-12 | 3 | SQL Server 2005 SP4 CU3 |'],
    ['15.0.4298', 'SQL Server 2019 CU19 | KB5023049 | 2023-02-16 | 2030-01-08 | 13 | SQL Server 2019 CU32 |'],
    // Unknown builds are unknown, never the nearest known one.
    ['15.0.4299.0', 'unknown (SQL Server 2019)'],
    ['18.0.1000.1', 'unknown (release unknown)'],
    ['15.0.x.1', 'not a build'],
  ])('%s → %s', (build, expected) => {
    expect(line(build)).toBe(expected);
  });

  it('says whether support has ended on the plan day, and which later service pack exists', () => {
    const sp2 = describeBuild(catalog, '13.0.5888.11', TODAY)!;
    expect(sp2).toMatchObject({ supported_until: '2026-07-14', support_ended: true, newer_level: 'SP3', level: 'SP2', cu: 17 });
    expect(describeBuild(catalog, '13.0.5888.11', '2026-07-13')!.support_ended).toBe(false);
    expect(describeBuild(catalog, '15.0.4298.1', TODAY)).toMatchObject({
      support_ended: false,
      newer_level: null,
      newest_cu: { name: 'SQL Server 2019 CU32', build: '15.0.4430', kb: 'KB5054833', release_date: '2025-02-27' },
    });
  });

  it('reads pre-release and RC builds without guessing a CU distance', () => {
    expect(describeBuild(catalog, '15.0.1000.34', TODAY)).toMatchObject({ known: true, name: 'SQL Server 2019 pre-release', cus_behind: null, newer_level: 'RTM' });
    // The 2019 RC is listed twice (15.0.1900.25 and .47): both find the one three-part build.
    expect(describeBuild(catalog, '15.0.1900.47', TODAY)).toMatchObject({ known: true, name: 'SQL Server 2019 RC', newer_level: 'RTM' });
  });

  it('finds builds by KB, with or without the KB prefix', () => {
    expect(catalog.byKnowledgeBase('KB5054833').map((e) => e.key)).toEqual(['15.0.4430']);
    expect(catalog.byKnowledgeBase('5046859').map((e) => e.name)).toEqual(['SQL Server 2019 RTM GDR']);
    expect(catalog.byKnowledgeBase('9999999')).toEqual([]);
  });

  it('warns when the catalog is more than 60 days old', () => {
    expect(staleCatalogWarning(catalog, '2026-09-14')).toBeNull();
    expect(staleCatalogWarning(catalog, '2026-09-15')).toContain('last updated 2026-07-16 (61 days ago)');
  });
});
