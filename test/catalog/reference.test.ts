import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BuildCatalog } from '../../src/catalog/catalog.js';
import { catalogFileSchema } from '../../src/catalog/catalogFile.js';
import { catalogFileText } from '../../src/catalog/catalogText.js';
import { catalogFromIndex, dbatoolsIndexSchema, indexProblems } from '../../src/catalog/dbatoolsIndex.js';

/*
 * The shipped catalog against dbatools' real build reference (scripts/catalog/, as published with
 * LastUpdated 2026-07-16): every one of its builds.
 */

interface RawEntry {
  Version: string;
  Name?: string;
  SP?: string;
  CU?: string;
  KBList?: string | string[];
  SupportedUntil?: string;
  ReleaseDate?: string;
  Retired?: boolean;
}
const REFERENCE_TEXT = readFileSync(new URL('../../scripts/catalog/dbatools-buildref-index.json', import.meta.url), 'utf8');
const RAW = JSON.parse(REFERENCE_TEXT) as { LastUpdated: string; Data: RawEntry[] };
const SHIPPED_TEXT = readFileSync(new URL('../../src/catalog/build-catalog.json', import.meta.url), 'utf8');
const catalog = new BuildCatalog(catalogFileSchema.parse(JSON.parse(SHIPPED_TEXT)));

/**
 * dbatools' own reading (Resolve-DbaBuild in Get-DbaBuild.ps1), written out separately: walk the
 * release's entries in order up to the build; SP sets the level and clears the CU, CU sets the CU.
 */
function dbatoolsReading(version: string): { name: string | null; sp: string | null; cu: string | null; supportedUntil: string | null } {
  const [major, minor] = version.split('.');
  let name: string | null = null;
  let sp: string | null = null;
  let cu: string | null = null;
  let supportedUntil: string | null = null;
  for (const el of RAW.Data.filter((e) => e.Version.startsWith(`${major}.${minor}.`))) {
    if (el.Name) name = el.Name;
    if (el.SP) {
      sp = el.SP;
      cu = null;
    }
    if (el.CU) cu = el.CU;
    if (el.SupportedUntil) supportedUntil = el.SupportedUntil.slice(0, 10);
    if (el.Version === version) break;
  }
  return { name, sp, cu, supportedUntil };
}

const threeParts = (v: string) => v.split('.').slice(0, 3).join('.');

describe('the shipped catalog', () => {
  it('is what scripts/writeCatalog.ts makes from the reference (regenerate with npm run catalog)', () => {
    const index = dbatoolsIndexSchema.parse(RAW);
    expect(indexProblems(index)).toEqual([]);
    expect(SHIPPED_TEXT).toBe(catalogFileText(catalogFromIndex(index)));
  });

  it('credits dbatools and carries its MIT licence notice and last update date', () => {
    expect(catalog.lastUpdated).toBe('2026-07-16T00:00:00');
    expect(catalog.source).toMatchObject({ license: 'MIT', copyright: 'Copyright (c) 2018 Chrissy LeMaire' });
    expect(catalog.source.url).toContain('github.com/dataplat/dbatools');
    expect(catalog.licenseNotice).toContain('Permission is hereby granted, free of charge');
    expect(catalog.licenseNotice).toContain('Copyright (c) 2018 Chrissy LeMaire');
  });
});

describe('every build of the reference', () => {
  it('has 1,153 entries on 1,152 three-part builds (the 2019 RC is listed twice)', () => {
    expect(RAW.Data).toHaveLength(1153);
    expect(catalog.entries).toHaveLength(1153);
    expect(new Set(RAW.Data.map((e) => threeParts(e.Version))).size).toBe(1152);
  });

  it('is found with its KB, retired flag, release date, level, CU and end of support as dbatools reads them', () => {
    let checked = 0;
    for (const raw of RAW.Data) {
      if (raw.Version === '15.0.1900.47') continue; // the second RC refresh: its three parts find the first
      const entry = catalog.lookup(raw.Version);
      expect(entry, raw.Version).toBeDefined();
      const kbs = raw.KBList === undefined ? [] : Array.isArray(raw.KBList) ? raw.KBList : [raw.KBList];
      expect(entry!.kbs, raw.Version).toEqual(kbs);
      expect(entry!.retired, raw.Version).toBe(raw.Retired === true);
      expect(entry!.releaseDate, raw.Version).toBe(raw.ReleaseDate?.slice(0, 10) ?? null);
      const expected = dbatoolsReading(raw.Version);
      expect(entry!.release, raw.Version).toBe(expected.name);
      expect(entry!.level, raw.Version).toBe(expected.sp);
      expect(entry!.cu === null ? null : `CU${entry!.cu}`, raw.Version).toBe(expected.cu);
      expect(entry!.supportedUntil, raw.Version).toBe(expected.sp === null ? null : expected.supportedUntil);
      checked++;
    }
    expect(checked).toBe(1152);
  });

  it('names each build from its release, level, CU and whether it is an update listed without its own label', () => {
    for (const entry of catalog.entries) {
      const release = `SQL Server ${entry.release.replace('2008R2', '2008 R2')}`;
      expect(entry.name.startsWith(`${release} `), entry.build).toBe(true);
      const rest = entry.name.slice(release.length + 1);
      const level = entry.level === 'RTM' && entry.cu !== null ? '' : `${entry.level} `;
      const cu = entry.cu === null ? '' : `CU${entry.cu} `;
      const base = `${level}${cu}`.trim();
      switch (entry.kind) {
        case 'pre_release':
          expect(rest, entry.build).toBe('pre-release');
          break;
        case 'service_pack':
        case 'cumulative_update':
          expect(rest, entry.build).toBe(base);
          break;
        case 'update':
          if (entry.parts[0] < 13) expect(rest, entry.build).toBe(`${base} + update`);
          else expect(rest, entry.build).toBe(entry.cu === null ? `${base} GDR` : `${base} + GDR`);
          break;
      }
    }
  });

  it('orders CUs: within each level, CU numbers rise with the build, and no build is a negative number of CUs behind', () => {
    const lastCu = new Map<string, number>();
    for (const entry of catalog.entries) {
      const level = `${entry.parts[0]}.${entry.parts[1]} ${entry.level}`;
      if (entry.kind === 'cumulative_update') {
        expect(entry.cu!, entry.build).toBeGreaterThan(lastCu.get(level) ?? 0);
        lastCu.set(level, entry.cu!);
      }
      const behind = catalog.cusBehind(entry);
      if (entry.level === null) expect(behind, entry.build).toBeNull();
      else expect(behind!, entry.build).toBeGreaterThanOrEqual(0);
    }
  });

  it('knows the newest CU of each release (highest build among CUs Microsoft has not retired)', () => {
    const newest = (major: number, minor: number) => {
      const e = catalog.newestCuOfRelease(major, minor);
      return e ? `${e.name} ${e.key} KB${e.kbs[0]}` : null;
    };
    expect(newest(9, 0)).toBe('SQL Server 2005 SP4 CU3 9.0.5266 KB2507769');
    expect(newest(10, 50)).toBe('SQL Server 2008 R2 SP2 CU13 10.50.4319 KB2967540');
    expect(newest(12, 0)).toBe('SQL Server 2014 SP3 CU4 12.0.6329 KB4500181');
    expect(newest(13, 0)).toBe('SQL Server 2016 SP2 CU17 13.0.5888 KB5001092');
    expect(newest(14, 0)).toBe('SQL Server 2017 CU31 14.0.3456 KB5016884');
    expect(newest(15, 0)).toBe('SQL Server 2019 CU32 15.0.4430 KB5054833');
    expect(newest(16, 0)).toBe('SQL Server 2022 CU26 16.0.4265 KB5093420');
    expect(newest(17, 0)).toBe('SQL Server 2025 CU7 17.0.4065 KB5096981');
  });

  it('flags exactly the eight updates Microsoft retired', () => {
    expect(catalog.entries.filter((e) => e.retired).map((e) => `${e.key} ${e.name}`)).toEqual([
      '10.0.5840 SQL Server 2008 SP3 CU10 + update',
      '10.50.2874 SQL Server 2008 R2 SP1 CU11 + update',
      '10.50.4279 SQL Server 2008 R2 SP2 CU5 + update',
      '13.0.5479 SQL Server 2016 SP2 CU9',
      '15.0.4013 SQL Server 2019 CU2',
      '15.0.4063 SQL Server 2019 CU7',
      '16.0.4235 SQL Server 2022 CU22 + GDR',
      '17.0.4005 SQL Server 2025 RTM GDR',
    ]);
  });
});
