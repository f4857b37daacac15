import { z } from 'zod';
import { MICROSOFT_CODE_SIGNING_SUBJECT } from '../config/schemas.js';

/**
 * A lab installer is a small JSON file named like the real one. What an execution does comes from
 * the bytes staged on the target, so a wrong or corrupted file shows as it would on a real server.
 */
export const labInstallerSchema = z.strictObject({
  lab_installer: z.literal(1),
  family: z.string().min(1),
  sets_build: z.string().min(1),
  seconds: z.number().nonnegative().default(60),
  signature: z
    .enum(['Valid', 'NotSigned', 'HashMismatch'])
    .default('Valid')
    .describe('The Authenticode status the lab reports for this file.'),
  signer: z.string().min(1).default(MICROSOFT_CODE_SIGNING_SUBJECT).describe("The signing certificate's subject the lab reports (when signed)."),
});
export type LabInstaller = z.infer<typeof labInstallerSchema>;

export function parseLabInstaller(content: Buffer | string): LabInstaller | null {
  try {
    const parsed = labInstallerSchema.safeParse(JSON.parse(content.toString()));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The Authenticode signature a lab installer file reports; a file that is not one reads as corrupted. */
export function labSignatureOf(content: Buffer | string): { status: string; signer: string | null } {
  const installer = parseLabInstaller(content);
  if (!installer) return { status: 'HashMismatch', signer: null };
  return { status: installer.signature, signer: installer.signature === 'NotSigned' ? null : installer.signer };
}

/** `/InstanceName=SALES` in setup parameters limits the patch to that instance. */
export function instanceFilter(parameters: string): string | null {
  const match = /\/InstanceName\s*=\s*"?([^"\s]+)"?/i.exec(parameters);
  return match?.[1] ?? null;
}
