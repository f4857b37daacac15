// Generated configuration roots for the benchmarks: the same three files a user keeps
// (config/audit_config.json, hotfix_mapping.json, sql_targets.json) and lab installer files under
// hotfixes/, written into a temporary folder so that no run touches the repository.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PARAMETERS = '/quiet /IAcceptSQLServerLicenseTerms /Action=Patch /AllInstances';

// Families the planning fleet spreads over, with their major version.
const PLAN_FAMILIES = [
  ['2012', 11],
  ['2014', 12],
  ['2016', 13],
  ['2017', 14],
  ['2019', 15],
  ['2022', 16],
  ['2025', 17],
];
// Chained hops per family: 7 families × 7 hops + 1 edition-filtered entry = 50 mapping entries.
const HOPS = 7;

/** A small deterministic generator (mulberry32), so that every run plans the same fleet. */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function tempRoot(label) {
  return mkdtempSync(path.join(os.tmpdir(), `autodbaudit-bench-${label}-`));
}

export function removeRoot(root) {
  rmSync(root, { recursive: true, force: true });
}

function writeJson(file, value) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 1)}\n`);
}

function installerName(family, kb) {
  return `SQLServer${family}-KB${kb}-x64.exe`;
}

/**
 * The planning mapping: 50 entries. Each family has a chain of hops
 * M.0.1000.0 → M.0.2000.0 → … → M.0.8000.0, so an instance far behind gets several hops; every
 * third hop has a second, optional installer; one entry is edition-filtered (2019 Enterprise).
 */
export function planningMapping() {
  const mappings = [];
  const files = [];
  let kb = 5000000;
  for (const [family, major] of PLAN_FAMILIES) {
    for (let hop = 0; hop < HOPS; hop++) {
      const target = `${major}.0.${2000 + 1000 * hop}.0`;
      const entryFiles = [{ family, kb: kb++, target, order: 1, required: true }];
      if (hop % 3 === 2) entryFiles.push({ family, kb: kb++, target, order: 2, required: false });
      files.push(...entryFiles);
      mappings.push({
        version_family: family,
        edition_filter: null,
        min_build: `${major}.0.${1000 + 1000 * hop}.0`,
        target_build: target,
        description: `CU${hop + 1} for SQL Server ${family}`,
        files: entryFiles.map((f) => ({
          filename: installerName(f.family, f.kb),
          path: `hotfixes/${f.family}/`,
          order: f.order,
          required: f.required,
          parameters: PARAMETERS,
        })),
        requires_restart: true,
      });
    }
  }
  const enterprise = { family: '2019', kb: kb++, target: '15.0.2000.0', order: 1, required: true };
  files.push(enterprise);
  mappings.push({
    version_family: '2019',
    edition_filter: 'Enterprise',
    min_build: '15.0.1000.0',
    target_build: '15.0.2000.0',
    description: 'CU1 for SQL Server 2019 Enterprise',
    files: [{ filename: installerName('2019', enterprise.kb), path: 'hotfixes/2019/', order: 1, required: true, parameters: PARAMETERS }],
    requires_restart: true,
  });
  return {
    mapping: {
      schema_version: 1,
      mappings,
      unsupported_versions: [
        { version_family: '2008R2', message: 'SQL Server 2008 R2 is out of support. No CUs available.' },
        { version_family: '2005', message: 'SQL Server 2005 is out of support. No CUs available.' },
      ],
    },
    installers: files.map((f) => ({ family: f.family, file: installerName(f.family, f.kb), setsBuild: f.target, seconds: 60 })),
  };
}

/**
 * `count` instances on count/2 hosts (two instances each), in the mix a real estate shows: most a
 * hop or two behind, some far behind, some up to date, out of support, unmapped or with a bad
 * recorded version.
 */
export function planningTargets(count, seed = 1) {
  const next = random(seed);
  const editions = ['Standard Edition (64-bit)', 'Enterprise Edition: Core-based Licensing (64-bit)', 'Developer Edition (64-bit)'];
  const targets = [];
  for (let i = 0; i < count; i++) {
    const [, major] = PLAN_FAMILIES[Math.floor(next() * PLAN_FAMILIES.length)];
    const roll = next();
    let version;
    if (roll < 0.7) {
      // Pending: how many hops behind, mostly one or two.
      const behind = roll < 0.4 ? 1 : roll < 0.6 ? 2 : 3 + Math.floor(next() * (HOPS - 2));
      const hop = HOPS - behind;
      version = `${major}.0.${1000 + 1000 * hop + Math.floor(next() * 900)}.0`;
    } else if (roll < 0.82) version = `${major}.0.${1000 + 1000 * HOPS}.0`;
    else if (roll < 0.87) version = '10.50.6000.34';
    else if (roll < 0.92) version = '10.0.6000.29';
    else if (roll < 0.95) version = `${major}.0.${100 + Math.floor(next() * 800)}.0`;
    else if (roll < 0.98) version = ' 15.00.2000.005 ';
    else version = 'unknown';
    targets.push({
      server: `GEN-SQL${String(Math.floor(i / 2)).padStart(5, '0')}`,
      instance: i % 2 === 0 ? 'MSSQLSERVER' : `INST${i % 7}`,
      tags: ['bench'],
      version,
      edition: editions[Math.floor(next() * editions.length)],
    });
  }
  return targets;
}

/** Writes a configuration root; returns the path of its audit_config.json. */
export function writeConfigRoot(root, { mapping, targets, installers, hotfix = {}, lab }) {
  writeJson(path.join(root, 'config', 'audit_config.json'), {
    schema_version: 1,
    hotfix: {
      mapping: 'config/hotfix_mapping.json',
      targets: 'config/sql_targets.json',
      output_dir: 'output',
      ...hotfix,
    },
    ...(lab ? { lab } : {}),
  });
  writeJson(path.join(root, 'config', 'hotfix_mapping.json'), mapping);
  writeJson(path.join(root, 'config', 'sql_targets.json'), { schema_version: 1, targets });
  for (const i of installers) {
    const file = path.join(root, 'hotfixes', i.family, i.file);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ lab_installer: 1, family: i.family, sets_build: i.setsBuild, seconds: i.seconds }));
  }
  return path.join(root, 'config', 'audit_config.json');
}

/** A planning fleet of `count` instances against the 50-entry mapping. */
export function writePlanningRoot(root, count) {
  const { mapping, installers } = planningMapping();
  return writeConfigRoot(root, { mapping, installers, targets: planningTargets(count) });
}

/**
 * A lab fleet for the deployment engine: `hosts` simulated hosts with one SQL Server 2019 instance
 * each, all needing one cumulative update. `secondsOf(i)` gives host i's simulated install time,
 * injected per host through `simulation.installers`.
 */
export function writeLabRoot(root, { hosts, secondsOf, timeScale, maxConcurrent, stepTimeoutMinutes = 5 }) {
  const file = installerName('2019', 5046859);
  const mapping = {
    schema_version: 1,
    mappings: [
      {
        version_family: '2019',
        edition_filter: null,
        min_build: '15.0.2000.5',
        target_build: '15.0.4395.2',
        description: 'CU30 for SQL Server 2019',
        files: [{ filename: file, path: 'hotfixes/2019/', order: 1, required: true, parameters: PARAMETERS }],
        requires_restart: true,
      },
    ],
    unsupported_versions: [],
  };
  const targets = [];
  for (let i = 0; i < hosts; i++) {
    const version = '15.0.4298.1';
    const edition = 'Standard Edition (64-bit)';
    targets.push({
      server: `LAB-H${String(i).padStart(5, '0')}`,
      instance: 'MSSQLSERVER',
      version,
      edition,
      simulation: { version, edition, installers: { [file]: { seconds: secondsOf(i) } } },
    });
  }
  return writeConfigRoot(root, {
    mapping,
    targets,
    installers: [{ family: '2019', file, setsBuild: '15.0.4395.2', seconds: 60 }],
    hotfix: { transport: 'simulated', max_concurrent_servers: maxConcurrent, step_timeout_minutes: stepTimeoutMinutes },
    lab: { time_scale: timeScale },
  });
}
