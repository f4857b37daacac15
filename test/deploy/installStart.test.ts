import { describe, expect, it } from 'vitest';
import { ConnectivityError } from '../../src/errors.js';
import { installerStartFailure } from '../../src/deploy/actions/install.js';
import { parseOperationOutput } from '../../src/remote/powershell/operationOutput.js';

function operationFailure(type: string, message: string): unknown {
  try {
    parseOperationOutput('install', JSON.stringify({ ok: false, error: { message, type, position: null } }), 'SQL1');
  } catch (error) {
    return error;
  }
  throw new Error('expected the envelope to be an error');
}

describe('an installer that the target could not start', () => {
  it('is told apart from a lost connection, after which the installer may still run', () => {
    const notStarted = operationFailure('InstallerStartFailed', 'the installer "C:\\ProgramData\\AutoDBAudit\\staging\\CU30.exe" could not be started: Access is denied');
    expect(installerStartFailure(notStarted)).toContain('could not be started: Access is denied');
    expect(installerStartFailure(operationFailure('FileNotFound', 'the installer "X" is not on the host'))).toContain('is not on the host');
    expect(installerStartFailure(operationFailure('StagedFileChanged', 'the staged installer "X" has SHA-256 b, expected a'))).toContain('expected a');
    expect(installerStartFailure(operationFailure('ExecutionLost', 'the wrapper ended without recording an exit code'))).toBeNull();
    expect(installerStartFailure(new ConnectivityError('SQL1', 'connection reset'))).toBeNull();
  });
});
