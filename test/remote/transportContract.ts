import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectivityError } from '../../src/errors.js';
import type { HostAddress, HostSession, StageRequest, Transport } from '../../src/remote/transport.js';

/** An installer the fixture's host knows how to run, and what it does there. */
export interface ContractInstaller {
  readonly localPath: string;
  readonly fileName: string;
  /** The build the fixture instance has after this installer ran; null when it changes nothing. */
  readonly setsBuild: string | null;
  /** The exit code this installer ends with. */
  readonly exitCode: number;
}

/**
 * What a transport implementation provides to run the shared contract: a host to patch, a host
 * that cannot be reached, and installers that succeed, fail and hang there.
 */
export interface ContractFixture {
  readonly transport: Transport;
  readonly host: HostAddress;
  readonly unreachable: HostAddress;
  readonly instance: string;
  readonly startBuild: string;
  readonly stagingDir: string;
  readonly good: ContractInstaller;
  readonly failing: ContractInstaller;
  /** Never finishes on its own. */
  readonly hanging: ContractInstaller;
  /**
   * The fixture instance is the primary replica (synchronous commit, manual failover) of this
   * availability group, whose other replica is an asynchronous-commit secondary; both healthy: the
   * primary SYNCHRONIZED, the secondary SYNCHRONIZING (an asynchronous replica is never SYNCHRONIZED).
   */
  readonly availabilityGroup: { readonly name: string; readonly localReplica: string; readonly secondaryReplica: string };
  /** Real time a hanging installer is given before the transport must stop it. */
  readonly timeoutMs: number;
  cleanup(): Promise<void>;
}

export function stageRequestFor(fixture: ContractFixture, installer: ContractInstaller): StageRequest {
  const bytes = readFileSync(installer.localPath);
  return {
    localPath: installer.localPath,
    fileName: installer.fileName,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    sizeBytes: statSync(installer.localPath).size,
    stagingDir: fixture.stagingDir,
  };
}

/**
 * The contract every Transport passes (BullMQ-style: one suite, every backend). The tests run in
 * order against one fixture because they follow a host through a deployment.
 */
export function transportContract(name: string, makeFixture: () => Promise<ContractFixture>): void {
  describe.sequential(`Transport contract: ${name}`, () => {
    let fixture: ContractFixture;
    let session: HostSession;

    beforeAll(async () => {
      fixture = await makeFixture();
      session = await fixture.transport.open(fixture.host);
    }, 120_000);

    afterAll(async () => {
      await session?.close();
      await fixture?.transport.dispose();
      await fixture?.cleanup();
    });

    it('refuses a host it cannot reach with a ConnectivityError naming the host', async () => {
      const error = await fixture.transport.open(fixture.unreachable).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConnectivityError);
      expect((error as ConnectivityError).server).toBe(fixture.unreachable.server);
      expect((error as Error).message).toContain(fixture.unreachable.server);
    });

    it('discovers the instance with its build, edition and services', async () => {
      const found = await session.discover();
      const instance = found.instances.find((i) => i.instance.toLowerCase() === fixture.instance.toLowerCase());
      expect(instance).toBeDefined();
      expect(instance!.build).toBe(fixture.startBuild);
      expect(instance!.edition).toEqual(expect.any(String));
      expect(instance!.services.length).toBeGreaterThan(0);
      for (const s of instance!.services) expect(s).toEqual({ name: expect.any(String), state: expect.any(String) });
    });

    it('reads the availability groups of an instance as its primary sees them, and names an instance it cannot read', async () => {
      const topology = await session.queryTopology([fixture.instance, 'NO_SUCH_INSTANCE']);
      expect(topology.instances).toHaveLength(2);
      const [mine, missing] = topology.instances;
      const { name, localReplica, secondaryReplica } = fixture.availabilityGroup;
      expect(mine).toEqual({ instance: fixture.instance, error: null, failoverCluster: null, availabilityGroups: [{ name, replicas: expect.any(Array) }] });
      expect(mine!.availabilityGroups[0]!.replicas).toHaveLength(2);
      expect(mine!.availabilityGroups[0]!.replicas).toEqual(
        expect.arrayContaining([
          {
            replicaServerName: localReplica,
            availabilityMode: 'synchronous_commit',
            failoverMode: 'manual',
            isLocal: true,
            role: 'primary',
            connected: true,
            synchronizationState: 'SYNCHRONIZED',
            failoverReady: true,
          },
          {
            replicaServerName: secondaryReplica,
            availabilityMode: 'asynchronous_commit',
            failoverMode: 'manual',
            isLocal: false,
            role: 'secondary',
            connected: true,
            synchronizationState: 'SYNCHRONIZING',
            // Only synchronous-commit databases are ever marked ready for failover.
            failoverReady: false,
          },
        ]),
      );
      expect(missing).toMatchObject({ instance: 'NO_SUCH_INSTANCE', availabilityGroups: [], failoverCluster: null });
      expect(missing!.error).toContain('NO_SUCH_INSTANCE');
    });

    it('changes a failover mode on the primary, reporting what it was, and does nothing when it is already so', async () => {
      const { name, localReplica } = fixture.availabilityGroup;
      const request = { instance: fixture.instance, group: name, replica: localReplica };
      expect(await session.setFailoverMode({ ...request, mode: 'automatic' })).toEqual({ previous: 'manual', current: 'automatic', changed: true });
      expect(await session.setFailoverMode({ ...request, mode: 'manual' })).toEqual({ previous: 'automatic', current: 'manual', changed: true });
      expect(await session.setFailoverMode({ ...request, mode: 'manual' })).toEqual({ previous: 'manual', current: 'manual', changed: false });
      const [mine] = (await session.queryTopology([fixture.instance])).instances;
      expect(mine!.availabilityGroups[0]!.replicas.find((r) => r.isLocal)).toMatchObject({ failoverMode: 'manual', role: 'primary' });
    });

    it('fails over only where it can: a primary is already primary, an unknown group is an error naming it', async () => {
      const { name } = fixture.availabilityGroup;
      expect(await session.failover({ instance: fixture.instance, group: name })).toEqual({ alreadyPrimary: true });
      const error = await session.failover({ instance: fixture.instance, group: 'NO-SUCH-AG' }).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toContain('NO-SUCH-AG');
      expect(error?.message).toContain(fixture.host.server);
    });

    it('reports pre-flight facts', async () => {
      const facts = await session.preflight({ stagingDir: fixture.stagingDir, instances: [fixture.instance], ignorePendingFileRename: false });
      expect(facts.stagingFreeBytes).toBeGreaterThan(0);
      expect(facts.systemFreeBytes).toBeGreaterThan(0);
      expect(Array.isArray(facts.pendingReboot)).toBe(true);
      expect(typeof facts.installerBusy).toBe('boolean');
      expect(facts.services.length).toBeGreaterThan(0);
      // The fixture's staging folder is the tool's own (created protected, or found safe).
      expect(facts.stagingFolder).toMatchObject({ path: fixture.stagingDir, problem: null });
      expect(facts.stagingFolder.owner).toContain('S-1-5-32-544');
    });

    it('stages a file with its SHA-256, and skips it when already there with the same hash', async () => {
      const request = stageRequestFor(fixture, fixture.good);
      const first = await session.stage(request);
      expect(first.sha256).toBe(request.sha256);
      expect(first.remotePath.toLowerCase()).toContain(fixture.good.fileName.toLowerCase());
      const second = await session.stage(request);
      expect(second).toEqual({ ...first, alreadyPresent: true });
    });

    it('reports the Authenticode signature of a staged installer where the target has one', async () => {
      const staged = await session.stage(stageRequestFor(fixture, fixture.good));
      if (!session.installerSignature) return;
      const signature = await session.installerSignature(staged.remotePath, fixture.stagingDir);
      if (signature !== null) expect(signature).toEqual({ status: expect.stringMatching(/^\w+$/), signer: expect.toSatisfy((s: unknown) => s === null || typeof s === 'string') });
    });

    it('knows nothing of an execution that never started', async () => {
      expect(await session.installerStatus('never-started-1')).toEqual({ state: 'not_started' });
    });

    it('runs an installer, reports its exit code, and the build moves', async () => {
      const staged = await session.stage(stageRequestFor(fixture, fixture.good));
      const result = await session.runInstaller({ executionId: 'contract-good-1', remotePath: staged.remotePath, parameters: '/quiet /AllInstances', timeoutMs: 60_000 });
      expect(result).toMatchObject({ kind: 'exited', exitCode: fixture.good.exitCode });
      expect(result.durationMs).toBeGreaterThanOrEqual(0);
      const build = await session.queryBuild(fixture.instance);
      expect(build.build).toBe(fixture.good.setsBuild);
      const status = await session.installerStatus('contract-good-1');
      expect(status).toMatchObject({ state: 'finished', exitCode: fixture.good.exitCode });
    });

    it('never runs an installer twice for one execution id: a second start attaches to the first', async () => {
      const staged = await session.stage(stageRequestFor(fixture, fixture.good));
      const again = await session.runInstaller({ executionId: 'contract-good-1', remotePath: staged.remotePath, parameters: '/quiet /AllInstances', timeoutMs: 60_000 });
      expect(again).toMatchObject({ kind: 'exited', exitCode: fixture.good.exitCode });
    });

    it('reports a failing installer with its exit code', async () => {
      const staged = await session.stage(stageRequestFor(fixture, fixture.failing));
      const result = await session.runInstaller({ executionId: 'contract-fail-1', remotePath: staged.remotePath, parameters: '/quiet', timeoutMs: 60_000 });
      expect(result).toMatchObject({ kind: 'exited', exitCode: fixture.failing.exitCode });
    });

    it('stops a hanging installer at the timeout', async () => {
      const staged = await session.stage(stageRequestFor(fixture, fixture.hanging));
      const started = Date.now();
      const result = await session.runInstaller({ executionId: 'contract-hang-1', remotePath: staged.remotePath, parameters: '/quiet', timeoutMs: fixture.timeoutMs });
      expect(result.kind).toBe('timed_out');
      expect(Date.now() - started).toBeGreaterThanOrEqual(fixture.timeoutMs - 50);
      const status = await session.installerStatus('contract-hang-1');
      expect(status.state).toBe('finished');
    });

    it('stops waiting when aborted, leaving the installer running on the target', async () => {
      const staged = await session.stage(stageRequestFor(fixture, fixture.hanging));
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const result = await session.runInstaller({
        executionId: 'contract-detach-1',
        remotePath: staged.remotePath,
        parameters: '/quiet',
        timeoutMs: 60_000,
        signal: controller.signal,
      });
      expect(result.kind).toBe('detached');
      expect((await session.installerStatus('contract-detach-1')).state).toBe('running');
    });

    it('reads an instance build', async () => {
      const build = await session.queryBuild(fixture.instance);
      expect(build.build).toBe(fixture.good.setsBuild);
      expect(['sql', 'registry']).toContain(build.source);
    });
  });
}
