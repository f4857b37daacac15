import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { targetSchema } from '../../src/config/schemas.js';
import { LabWorld } from '../../src/lab/world.js';
import { SimulatedTransport } from '../../src/remote/simulated.js';
import { labInstaller, writeConfigTree } from '../helpers/configTree.js';
import { transportContract } from './transportContract.js';

transportContract('simulated', async () => {
  const root = writeConfigTree({
    'good/CU30.exe': labInstaller('2019', '15.0.4395.2', 1),
    'bad/CU30-broken.exe': labInstaller('2019', '15.0.4395.2', 1),
    'hang/CU30-hang.exe': labInstaller('2019', '15.0.4395.2', 1),
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'ada-lab-'));
  const targets = [
    targetSchema.parse({
      server: 'LAB1',
      transport: 'simulated',
      simulation: {
        version: '15.0.4298.0',
        edition: 'Standard Edition (64-bit)',
        installers: { 'CU30-broken.exe': { exit_codes: [1603] }, 'CU30-hang.exe': { hang: true } },
        availability_group: { name: 'CONTRACT-AG', role: 'primary' },
      },
    }),
    targetSchema.parse({
      server: 'LAB1-DR',
      transport: 'simulated',
      simulation: { version: '15.0.4298.0', availability_group: { name: 'CONTRACT-AG', role: 'secondary', availability_mode: 'asynchronous_commit' } },
    }),
    targetSchema.parse({ server: 'LAB-DOWN', transport: 'simulated', simulation: { version: '15.0.4298.0', reachable: false } }),
  ];
  const world = LabWorld.open(path.join(dir, 'world.db'), targets, { timeScale: 0.01 });
  return {
    transport: new SimulatedTransport(world),
    host: { server: 'LAB1' },
    unreachable: { server: 'LAB-DOWN' },
    instance: 'MSSQLSERVER',
    startBuild: '15.0.4298.0',
    stagingDir: 'C:\\ProgramData\\AutoDBAudit\\staging',
    good: { localPath: path.join(root, 'good/CU30.exe'), fileName: 'CU30.exe', setsBuild: '15.0.4395.2', exitCode: 0 },
    failing: { localPath: path.join(root, 'bad/CU30-broken.exe'), fileName: 'CU30-broken.exe', setsBuild: null, exitCode: 1603 },
    hanging: { localPath: path.join(root, 'hang/CU30-hang.exe'), fileName: 'CU30-hang.exe', setsBuild: null, exitCode: 0 },
    availabilityGroup: { name: 'CONTRACT-AG', localReplica: 'LAB1', secondaryReplica: 'LAB1-DR' },
    timeoutMs: 300,
    async cleanup() {
      world.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
