import { fileURLToPath } from 'node:url';

/**
 * The surfaces file of the SSH test bed: the functions of Surfaces.Windows.ps1, answered from the lab
 * world on the host (through labHostCli.js) instead of from Windows.
 */
export function labSurfacesFile(): string {
  return fileURLToPath(new URL('./powershell/Surfaces.Lab.ps1', import.meta.url));
}

