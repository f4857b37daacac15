import { statSync } from 'node:fs';
import type { LocalInstaller } from './localInstallers.js';
import { sha256OfFile } from './localInstallers.js';

/** Hashes each local installer once per process, however many hosts stage it. */
export class InstallerCache {
  private readonly hashes = new Map<string, Promise<LocalInstaller>>();

  constructor(known: ReadonlyMap<string, LocalInstaller> = new Map()) {
    for (const [p, installer] of known) this.hashes.set(p, Promise.resolve(installer));
  }

  /** Size in bytes without reading the file; null when the file is not there. */
  peekSize(localPath: string): number | null {
    try {
      return statSync(localPath).size;
    } catch {
      return null;
    }
  }

  /** The installer's hash; rejects when it differs from a pinned one. */
  get(localPath: string, pinnedSha256: string | null): Promise<LocalInstaller> {
    let entry = this.hashes.get(localPath);
    if (!entry) {
      entry = sha256OfFile(localPath).then((sha256) => ({ path: localPath, sha256, sizeBytes: statSync(localPath).size }));
      this.hashes.set(localPath, entry);
    }
    return entry.then((installer) => {
      if (pinnedSha256 && installer.sha256 !== pinnedSha256.toLowerCase()) {
        throw new Error(`${localPath} has SHA-256 ${installer.sha256}, but the mapping pins ${pinnedSha256}; refusing to stage a different file`);
      }
      return installer;
    });
  }
}
