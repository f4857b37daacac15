import { describe, expect, it } from 'vitest';
import { orderHostsByExpectedWork } from '../../src/deploy/hostOrder.js';
import type { ExecutionGroup, HostWork } from '../../src/deploy/hostWork.js';
import type { StepStatus } from '../../src/store/states.js';
import { labExecutions, labFleet } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';

function host(server: string, installers: [string, StepStatus][]): HostWork {
  const groups = installers.map(
    ([installer, status], i): ExecutionGroup => ({
      server,
      executionId: `${server}-${i}`,
      hostStepOrder: i + 1,
      installer,
      localPath: `/x/${installer}`,
      parameters: '',
      pinnedSha256: null,
      required: true,
      steps: [],
      status,
    }),
  );
  return { server, transport: 'simulated', port: undefined, credential: undefined, targets: [], groups };
}

const names = (hosts: HostWork[]) => hosts.map((h) => h.server);

describe('orderHostsByExpectedWork', () => {
  it('without history, starts hosts with more installers first and keeps the plan order otherwise', () => {
    const work = [host('A', [['CU30.exe', 'pending']]), host('B', [['CU19.exe', 'pending'], ['CU30.exe', 'pending']]), host('C', [['CU16.exe', 'pending']])];
    expect(names(orderHostsByExpectedWork(work, new Map()))).toEqual(['B', 'A', 'C']);
  });

  it('uses the typical durations of earlier runs, longest host first', () => {
    const work = [host('A', [['CU30.exe', 'pending']]), host('B', [['CU16.exe', 'pending']]), host('C', [['NEW.exe', 'pending']])];
    const typical = new Map([
      ['cu30.exe', 60_000],
      ['cu16.exe', 600_000],
    ]);
    // NEW.exe is unknown: it counts as the median of the known ones (600 s of two values → the upper).
    expect(names(orderHostsByExpectedWork(work, typical))).toEqual(['B', 'C', 'A']);
  });

  it('counts only the installers still to run', () => {
    const work = [host('A', [['CU19.exe', 'success'], ['CU30.exe', 'pending']]), host('B', [['CU16.exe', 'pending']])];
    const typical = new Map([
      ['cu19.exe', 900_000],
      ['cu30.exe', 60_000],
      ['cu16.exe', 120_000],
    ]);
    expect(names(orderHostsByExpectedWork(work, typical))).toEqual(['B', 'A']);
  });
});

describe('host order in a deployment', () => {
  it('starts the host with the longer chain first when only one host runs at a time', () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B', version: '15.0.2000.5' }], { hotfix: { max_concurrent_servers: 1 } });
    expect(runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]).code).toBe(0);
    expect(labExecutions(fleet.root).map((e) => `${e.server} ${e.installer}`)).toEqual(['B CU19.exe', 'B CU30.exe', 'A CU30.exe']);
  });
});
