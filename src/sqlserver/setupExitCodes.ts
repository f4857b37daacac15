/** How the orchestrator treats an installer's exit code. */
export const EXIT_OUTCOMES = ['success', 'success_restart', 'failure'] as const;
export type ExitOutcome = (typeof EXIT_OUTCOMES)[number];

export interface ExitCodeMeaning {
  readonly code: number;
  readonly outcome: ExitOutcome;
  /** What the code means, in the words an operator would search for. */
  readonly meaning: string;
}

// Codes from Windows Installer (msiexec) and SQL Server setup.exe. Negative codes are SQL setup's
// HRESULT-style codes as the process exit code reports them (a signed 32-bit integer).
const KNOWN: readonly ExitCodeMeaning[] = [
  { code: 0, outcome: 'success', meaning: 'success' },
  { code: 3010, outcome: 'success_restart', meaning: 'success, restart required (ERROR_SUCCESS_REBOOT_REQUIRED)' },
  { code: 1641, outcome: 'success_restart', meaning: 'success, the installer initiated a restart (ERROR_SUCCESS_REBOOT_INITIATED)' },
  { code: 1603, outcome: 'failure', meaning: 'fatal error during installation (ERROR_INSTALL_FAILURE)' },
  { code: 1618, outcome: 'failure', meaning: 'another installation is already in progress (ERROR_INSTALL_ALREADY_RUNNING)' },
  { code: 1602, outcome: 'failure', meaning: 'the user cancelled installation (ERROR_INSTALL_USEREXIT)' },
  { code: 1633, outcome: 'failure', meaning: 'this installation package is not supported on this platform (ERROR_INSTALL_PLATFORM_UNSUPPORTED)' },
  { code: 1638, outcome: 'failure', meaning: 'another version of this product is already installed (ERROR_PRODUCT_VERSION)' },
  { code: 1639, outcome: 'failure', meaning: 'invalid command line argument (ERROR_INVALID_COMMAND_LINE)' },
  { code: 1642, outcome: 'failure', meaning: 'the upgrade cannot be installed: the program to be upgraded may be missing or the wrong version (ERROR_PATCH_TARGET_NOT_FOUND)' },
  { code: 1645, outcome: 'failure', meaning: 'Windows Installer does not permit installation from a Remote Desktop connection' },
  { code: 5, outcome: 'failure', meaning: 'access denied' },
  { code: 87, outcome: 'failure', meaning: 'invalid parameter' },
  { code: 1, outcome: 'failure', meaning: 'general failure' },
  // Setup's RebootRequiredCheck rule failed: it refused to start because a restart is pending, so
  // nothing was installed. A failure, never a success that wants a restart.
  { code: -2067919934, outcome: 'failure', meaning: 'SQL setup: restart the computer before setup can run (a restart is pending; nothing was installed)' },
  // Setup found nothing below this patch level: the update is already in. Accepted, because the
  // post-check still demands the target build; a wrong installer is caught there.
  { code: -2068643838, outcome: 'success', meaning: 'SQL setup: there are no SQL Server instances or shared features that can be updated on this computer (nothing to patch: already applied)' },
  { code: -2061893606, outcome: 'failure', meaning: 'SQL setup: wait on the Database Engine recovery handle failed; the service did not come back after patching' },
];

const BY_CODE = new Map(KNOWN.map((entry) => [entry.code, withHex(entry)]));

// SQL setup's negative codes are searched for in their hex form (0x84BE0BC2), so say both.
function withHex(entry: ExitCodeMeaning): ExitCodeMeaning {
  if (entry.code >= 0) return entry;
  return { ...entry, meaning: `${entry.meaning} (${hexOf(entry.code)})` };
}

function hexOf(code: number): string {
  return `0x${(code >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

/** The meaning of an installer exit code; unknown codes are failures, said plainly with their hex form. */
export function classifyExitCode(code: number): ExitCodeMeaning {
  const known = BY_CODE.get(code);
  if (known) return known;
  return { code, outcome: 'failure', meaning: `unknown exit code (${hexOf(code)})` };
}

export function knownExitCodes(): readonly ExitCodeMeaning[] {
  return [...BY_CODE.values()];
}
