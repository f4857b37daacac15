import type { StagingFolderFacts } from './transport.js';

/**
 * The refusal for an unsafe staging folder, in the words of the target-side operations
 * (Format-StagingFolderRefusal in src/remote/powershell/StagingFolder.ps1), for the lab and pre-flight.
 */
export function stagingFolderRefusal(facts: StagingFolderFacts): string {
  return `the staging folder "${facts.path}" is not safe to run installers from: ${facts.problem}. Remove it (the tool creates it again with an ACL for SYSTEM and Administrators only) or give it such an ACL and owner`;
}
