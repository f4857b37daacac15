import { freePort } from '../helpers/sshTestBed.js';
import { transportContract } from '../remote/transportContract.js';
import { startSshFixture } from './sshFixture.js';

// The ssh transport against the shared contract, over a real sshd on 127.0.0.1: the operations run in
// pwsh behind it, with the lab surfaces answering from the lab world.

transportContract('ssh', async () => {
  const fixture = await startSshFixture([
    {
      name: 'SSH-LAB1',
      simulation: {
        installers: { 'CU30-broken.exe': { exit_codes: [1603] }, 'CU30-hang.exe': { hang: true } },
        availability_group: { name: 'CONTRACT-AG', role: 'primary' },
      },
    },
  ], 0.01, [{ name: 'SSH-LAB1-DR', simulation: { availability_group: { name: 'CONTRACT-AG', role: 'secondary', availability_mode: 'asynchronous_commit' } } }]);
  const host = fixture.bed.host('SSH-LAB1');
  return {
    transport: fixture.transport('SSH-LAB1'),
    host: { server: 'SSH-LAB1', port: host.port, credential: 'bed' },
    unreachable: { server: 'SSH-DOWN', port: await freePort(), credential: 'bed' },
    instance: 'MSSQLSERVER',
    startBuild: '15.0.4298.0',
    stagingDir: host.stagingDir,
    // 100 simulated seconds at the fixture's time scale: one real second.
    good: { localPath: fixture.installer('CU30.exe', '2019', '15.0.4395.2', 100), fileName: 'CU30.exe', setsBuild: '15.0.4395.2', exitCode: 0 },
    failing: { localPath: fixture.installer('CU30-broken.exe', '2019', '15.0.4395.2', 100), fileName: 'CU30-broken.exe', setsBuild: null, exitCode: 1603 },
    hanging: { localPath: fixture.installer('CU30-hang.exe', '2019', '15.0.4395.2', 100), fileName: 'CU30-hang.exe', setsBuild: null, exitCode: 0 },
    availabilityGroup: { name: 'CONTRACT-AG', localReplica: 'SSH-LAB1', secondaryReplica: 'SSH-LAB1-DR' },
    timeoutMs: 2_000,
    cleanup: () => fixture.cleanup(),
  };
});
