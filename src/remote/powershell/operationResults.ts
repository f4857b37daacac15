import { RemoteOperationError } from '../../errors.js';
import { parseSetupSummary } from '../../sqlserver/setupSummary.js';
import type { BuildQuery, DiscoveryResult, InstallerStatus, InstallResult, PreflightFacts, TopologyResult } from '../transport.js';
import type { OperationResult } from './operationOutput.js';

/**
 * The Transport's view of the operations' checked results, for every transport that runs the `.ps1`
 * operations (however it reaches the host), so that they all answer the engine alike.
 */

export function discoveryFrom(result: OperationResult<'discover'>): DiscoveryResult {
  return {
    instances: result.instances.map((instance) => ({
      instance: instance.instance,
      build: instance.build,
      edition: instance.edition,
      patchLevel: instance.productLevel,
      services: instance.services,
    })),
    cluster: result.cluster,
  };
}

export function preflightFactsFrom(result: OperationResult<'preflight'>): PreflightFacts {
  return {
    stagingFreeBytes: result.stagingFreeBytes,
    systemFreeBytes: result.systemFreeBytes,
    pendingReboot: result.pendingReboot,
    installerBusy: result.installerBusy,
    services: result.services,
    stagingFolder: result.stagingFolder,
    asrWmiRule: result.asrWmiRule,
  };
}

/** The final result of an install call, or null while the installer still runs. */
export function installResultFrom(server: string, result: OperationResult<'install'>): InstallResult | null {
  switch (result.outcome) {
    case 'running':
      return null;
    case 'exited':
      if (result.exitCode === null) throw new RemoteOperationError(server, 'install', 'the installer exited without an exit code');
      return {
        kind: 'exited',
        exitCode: result.exitCode,
        durationMs: result.durationMs,
        summaryTail: result.summaryTail ?? undefined,
        summaryPath: result.summaryPath ?? undefined,
        summary: result.summaryHead ? parseSetupSummary(result.summaryHead) : null,
      };
    case 'timed_out':
      return { kind: 'timed_out', durationMs: result.durationMs, summaryTail: result.summaryTail ?? undefined };
    case 'left_running':
      return { kind: 'left_running', durationMs: result.durationMs, reason: result.leftRunningReason ?? 'the target left it running' };
    default: {
      const never: never = result.outcome;
      throw new Error(`unknown install outcome ${String(never)}`);
    }
  }
}

export function installerStatusFrom(result: OperationResult<'installerStatus'>): InstallerStatus {
  switch (result.state) {
    case 'not_started':
      return { state: 'not_started' };
    case 'running':
      return { state: 'running', startedAt: result.startedAt ?? '' };
    case 'finished':
      return { state: 'finished', startedAt: result.startedAt ?? '', finishedAt: result.finishedAt ?? '', exitCode: result.exitCode };
    default: {
      const never: never = result.state;
      throw new Error(`unknown installer state ${String(never)}`);
    }
  }
}

export function buildQueryFrom(result: OperationResult<'queryBuild'>): BuildQuery {
  return {
    build: result.build,
    edition: result.edition,
    productLevel: result.productLevel,
    productUpdateLevel: result.productUpdateLevel,
    source: result.source,
  };
}

/** SQL Server's `SYNCHRONOUS_COMMIT` as the configuration writes it: `synchronous_commit`. */
function lowerDesc(value: string | null): string | null {
  return value === null ? null : value.toLowerCase();
}

export function topologyFrom(result: OperationResult<'topology'>): TopologyResult {
  return {
    instances: result.instances.map((instance) => ({
      instance: instance.instance,
      error: instance.error,
      failoverCluster: instance.failoverCluster,
      availabilityGroups: instance.availabilityGroups.map((group) => ({
        name: group.name,
        replicas: group.replicas.map((replica) => ({
          replicaServerName: replica.replicaServerName,
          availabilityMode: lowerDesc(replica.availabilityMode),
          failoverMode: lowerDesc(replica.failoverMode),
          isLocal: replica.isLocal,
          role: lowerDesc(replica.role),
          connected: replica.connected,
          synchronizationState: replica.synchronizationState,
          failoverReady: replica.failoverReady,
        })),
      })),
    })),
  };
}
