import { describe, expect, it } from 'vitest';
import { stopSignals } from '../../src/cli/deployCommand.js';

describe('the signals that stop a deployment gently', () => {
  it('include SIGHUP everywhere (a closed terminal, or a closed console window on Windows) and SIGQUIT only where it exists', () => {
    expect(stopSignals('linux')).toEqual(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']);
    expect(stopSignals('darwin')).toContain('SIGQUIT');
    // Windows has no SIGQUIT: nothing would ever send it there.
    expect(stopSignals('win32')).toEqual(['SIGINT', 'SIGTERM', 'SIGHUP']);
  });
});
