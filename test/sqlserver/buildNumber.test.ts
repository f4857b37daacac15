import { describe, expect, it } from 'vitest';
import { compareBuilds, mustParseBuild, parseBuild } from '../../src/sqlserver/buildNumber.js';
import { editionMatches } from '../../src/sqlserver/edition.js';
import { familyOf, VERSION_FAMILIES } from '../../src/sqlserver/family.js';
import { classifyExitCode, knownExitCodes } from '../../src/sqlserver/setupExitCodes.js';

describe('parseBuild', () => {
  it.each([
    ['15.0.4298.0', '15.0.4298.0'],
    ['9.00.5000.00', '9.0.5000.0'],
    ['  16.0.4165.4 ', '16.0.4165.4'],
    ['16.0.1000', '16.0.1000.0'],
    ['10.50.6000.34', '10.50.6000.34'],
  ])('parses %j as %s', (raw, text) => {
    expect(parseBuild(raw)?.text).toBe(text);
  });

  it.each(['', 'abc', '15', '15.0', '15.0.x.1', '15.0.4298.0.1', '-1.0.0.0', '15..0.1', '15.0.4298.0 CU1', null, undefined, 15])(
    'rejects %j without throwing',
    (raw) => {
      expect(parseBuild(raw)).toBeNull();
    },
  );

  it('compares as four numbers, never as strings', () => {
    const order = ['13.0.999.0', '13.0.1000.0', '13.0.5026.0', '13.0.6300.2', '13.0.6441.1', '14.0.1000.169'].map(mustParseBuild);
    for (let i = 1; i < order.length; i++) expect(compareBuilds(order[i - 1]!, order[i]!)).toBeLessThan(0);
    expect(compareBuilds(mustParseBuild('9.00.5000.00'), mustParseBuild('9.0.5000.0'))).toBe(0);
    expect(compareBuilds(mustParseBuild('16.0.4165.10'), mustParseBuild('16.0.4165.9'))).toBeGreaterThan(0);
  });
});

describe('familyOf', () => {
  it.each([
    ['8.0.2039.0', '2000'],
    ['9.00.5000.00', '2005'],
    ['10.0.6000.29', '2008'],
    ['10.50.6000.34', '2008R2'],
    ['11.0.7001.0', '2012'],
    ['12.0.6444.4', '2014'],
    ['13.0.6300.2', '2016'],
    ['14.0.3456.2', '2017'],
    ['15.0.4395.2', '2019'],
    ['16.0.4165.4', '2022'],
    ['17.0.1000.7', '2025'],
  ])('%s is SQL Server %s', (build, family) => {
    expect(familyOf(mustParseBuild(build))).toBe(family);
  });

  it('knows every family from 2000 to 2025', () => {
    expect(VERSION_FAMILIES).toEqual(['2000', '2005', '2008', '2008R2', '2012', '2014', '2016', '2017', '2019', '2022', '2025']);
  });

  it.each(['7.0.623.0', '10.25.1.1', '15.1.1.1', '18.0.1.1'])('%s belongs to no family', (build) => {
    expect(familyOf(mustParseBuild(build))).toBeNull();
  });
});

describe('editionMatches', () => {
  it('matches a word case-insensitively', () => {
    expect(editionMatches('Standard', 'Standard Edition (64-bit)')).toBe(true);
    expect(editionMatches('standard', 'STANDARD EDITION')).toBe(true);
    expect(editionMatches('Enterprise', 'Enterprise Edition: Core-based Licensing (64-bit)')).toBe(true);
    expect(editionMatches('Developer', 'Enterprise Developer Edition (64-bit)')).toBe(true);
  });

  it('does not match inside another word, or without an edition', () => {
    expect(editionMatches('Standard', 'NonStandard Edition')).toBe(false);
    expect(editionMatches('Enterprise', 'Standard Edition (64-bit)')).toBe(false);
    expect(editionMatches('Standard', null)).toBe(false);
    expect(editionMatches('', 'Standard Edition')).toBe(false);
  });

  it('treats regular-expression characters literally', () => {
    expect(editionMatches('(64-bit)', 'Standard Edition (64-bit)')).toBe(true);
    expect(editionMatches('Std.*', 'Standard Edition')).toBe(false);
  });
});

describe('classifyExitCode', () => {
  it.each([
    [0, 'success', 'success'],
    [3010, 'success_restart', 'restart required'],
    [1641, 'success_restart', 'restart'],
    [1603, 'failure', 'fatal error during installation'],
    [1618, 'failure', 'another installation is already in progress'],
    [-2067919934, 'failure', 'restart the computer before setup can run'],
    [-2068643838, 'success', 'nothing to patch'],
  ])('%i is %s (%s)', (code, outcome, meaning) => {
    const result = classifyExitCode(code);
    expect(result.outcome).toBe(outcome);
    expect(result.meaning).toContain(meaning);
  });

  it('names negative setup codes in hex too', () => {
    expect(classifyExitCode(-2067919934).meaning).toContain('0x84BE0BC2');
    expect(classifyExitCode(-2068643838).meaning).toContain('0x84B30002');
  });

  it('calls an unknown code a failure and says so', () => {
    const unknown = classifyExitCode(424242);
    expect(unknown.outcome).toBe('failure');
    expect(unknown.meaning).toMatch(/unknown exit code \(0x00067932\)/);
  });

  it('has no code twice', () => {
    const codes = knownExitCodes().map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
