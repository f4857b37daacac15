import type { StageResult } from '../../remote/transport.js';
import type { DeployContext } from '../context.js';
import { crashPoint } from '../crashPoints.js';
import type { ExecutionGroup } from '../hostWork.js';
import { signerRefusal } from '../installerTrust.js';
import type { HostContext } from './types.js';

/** Staging refused or produced a bad copy: the installer's action fails with this message as it is. */
export class StagingError extends Error {}

/**
 * Stage: copy an installer to the host once per session, check the copy's SHA-256 and its
 * Authenticode signature. Idempotent on the host (a file already there with the same hash is not
 * copied again), so it needs no row of its own: the install action that needs the file stages it.
 */
export async function stageInstaller(ctx: DeployContext, host: HostContext, group: ExecutionGroup): Promise<StageResult> {
  const server = host.server;
  const session = host.session!;
  const known = host.staged.get(group.localPath);
  if (known) return known;
  const local = await ctx.installers.get(group.localPath, group.pinnedSha256);
  const copy = () =>
    session.stage(
      { localPath: local.path, fileName: group.installer, sha256: local.sha256, sizeBytes: local.sizeBytes, stagingDir: ctx.settings.stagingDir },
      ctx.cancellation.signal,
    );
  const result = await (ctx.stagingSlots ? ctx.stagingSlots(copy) : copy());
  if (result.sha256.toLowerCase() !== local.sha256) {
    throw new StagingError(
      `${server}: the staged copy of ${group.installer} at ${result.remotePath} has SHA-256 ${result.sha256}, expected ${local.sha256}; the copy is corrupt`,
    );
  }
  const signature = await session.installerSignature?.(result.remotePath, ctx.settings.stagingDir, ctx.cancellation.signal);
  const signed = signature ? `; Authenticode ${signature.status}${signature.signer ? `, signed by ${signature.signer}` : ''}` : '';
  if (signature && signature.status !== 'Valid' && ctx.settings.requireSignedInstallers) {
    throw new StagingError(
      `${server}: ${group.installer} at ${result.remotePath} is not validly signed (Authenticode ${signature.status}); refusing to run it (require_signed_installers)`,
    );
  }
  if (signature?.status === 'Valid') {
    const refusal = signerRefusal(signature.signer, ctx.settings.allowedSigners);
    if (refusal) throw new StagingError(`${server}: ${group.installer} at ${result.remotePath} ${refusal}; refusing to run it`);
  }
  // The transports copy nothing when the file is there with the same hash; the log says so, and by which run it came.
  const earlier = result.alreadyPresent ? ctx.history.lastStagingOf(server, local.sha256, ctx.runId) : undefined;
  const how = result.alreadyPresent
    ? `already staged${earlier ? ` (by run ${earlier.runId}${earlier.mode === 'stage' ? ', stage-only' : ''}, ${earlier.stagedAt})` : ''}, not copied again,`
    : 'copied and staged';
  ctx.history.recordStagedFile(ctx.runId, {
    server,
    installer: group.installer,
    remotePath: result.remotePath,
    sha256: local.sha256,
    signature: signature?.status ?? null,
    copied: !result.alreadyPresent,
  });
  ctx.history.addEvent({
    runId: ctx.runId,
    server,
    level: 'info',
    kind: 'staged',
    message: `${server}: ${group.installer} ${how} at ${result.remotePath} (SHA-256 ${local.sha256.slice(0, 12)}… verified${signed})`,
  });
  host.staged.set(group.localPath, result);
  crashPoint('staged');
  return result;
}
