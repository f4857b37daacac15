import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOperationLocally } from '../../src/remote/powershell/localPowerShell.js';
import { type WinRmHostSession, WinRmTransport } from '../../src/remote/winrm.js';
import { requirePwsh } from './pwsh.js';

const pwsh = requirePwsh();

// Text that PowerShell would read as code, or that consoles and encoders tend to mangle.
const awkwardPiece = fc.constantFrom(
  '"',
  "'",
  '$',
  '`',
  ';',
  '\n',
  '\r\n',
  '\\',
  '\\\\server\\share',
  '$(Remove-Item C:\\)',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: PowerShell's braced variable, sent as text.
  '${env:PATH}',
  '@(1)',
  '`n',
  "''",
  '|',
  '&&',
  '#',
  '<#',
  '\u0000',
  '\u001b[31m',
  '\u2028',
  'é',
  'ß',
  '中文',
  '😀',
  '\ud83d',
  ' ',
);
const awkwardText = fc.array(fc.oneof(awkwardPiece, fc.string({ unit: 'binary', maxLength: 12 })), { maxLength: 8 }).map((pieces) => pieces.join(''));
const argumentValue = fc.record({
  text: awkwardText,
  list: fc.array(fc.oneof(awkwardText, fc.integer(), fc.boolean(), fc.constant(null)), { maxLength: 4 }),
  nested: fc.record({ 'key "$`;': awkwardText, number: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
});

/** JSON has no -0; what a value is after the trip through JSON is what must come back. */
function asJsonCarriesIt(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

describe('arguments passed to an operation', () => {
  it('arrive unchanged in a fresh PowerShell (each run starts pwsh)', async () => {
    await fc.assert(
      fc.asyncProperty(argumentValue, async (value) => {
        const result = await runOperationLocally('probe', { echo: value }, { executable: pwsh, server: 'SQL-LOCAL', timeoutMs: 30_000 });
        expect(result.echo).toEqual(asJsonCarriesIt(value));
      }),
      { numRuns: 8 },
    );
  });

  describe('through the long-lived session process', () => {
    const transport = new WinRmTransport({ localExecution: true, powershellPath: pwsh });
    let session: WinRmHostSession;
    beforeAll(async () => {
      session = (await transport.open({ server: 'SQL-LOCAL' })) as WinRmHostSession;
    });
    afterAll(() => transport.dispose());

    it('arrive unchanged', async () => {
      await fc.assert(
        fc.asyncProperty(argumentValue, async (value) => {
          const result = await session.invoke('probe', { echo: value });
          expect(result.echo).toEqual(asJsonCarriesIt(value));
        }),
        { numRuns: 100 },
      );
    });
  });
});
