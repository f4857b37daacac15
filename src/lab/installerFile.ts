import { z } from 'zod';

/**
 * A lab installer is a small JSON file named like the real one. What an execution does comes from
 * the bytes staged on the target, so a wrong or corrupted file shows as it would on a real server.
 */
export const labInstallerSchema = z.strictObject({
  lab_installer: z.literal(1),
  family: z.string().min(1),
  sets_build: z.string().min(1),
  seconds: z.number().nonnegative().default(60),
  authenticode: z
    .string()
    .default('Valid')
    .describe('The signature status the lab reports for this file (Valid, NotSigned, HashMismatch, …).'),
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

/** `/InstanceName=SALES` in setup parameters limits the patch to that instance. */
export function instanceFilter(parameters: string): string | null {
  const match = /\/InstanceName\s*=\s*"?([^"\s]+)"?/i.exec(parameters);
  return match?.[1] ?? null;
}
