/**
 * Whose installers may run. A valid Authenticode signature proves only that someone with a code-signing
 * certificate signed the file; `allowed_signers` says whose signatures are trusted (by default
 * Microsoft's, which signs SQL Server's cumulative updates).
 */

/** A certificate subject compared without regard to case or the spaces around its commas. */
export function normalizeSubject(subject: string): string {
  return subject
    .split(',')
    .map((part) => part.trim().replace(/\s*=\s*/, '=').toLowerCase())
    .filter((part) => part !== '')
    .join(',');
}

/** Why a validly signed installer is refused, or null when its signer is allowed. */
export function signerRefusal(signer: string | null, allowedSigners: readonly string[]): string | null {
  if (signer === null) return 'is signed, but the target did not report its signer';
  const wanted = normalizeSubject(signer);
  if (allowedSigners.some((allowed) => normalizeSubject(allowed) === wanted)) return null;
  return `is signed by "${signer}", which is not in allowed_signers (${allowedSigners.map((a) => `"${a}"`).join(', ')})`;
}
