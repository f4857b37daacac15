import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { powershellParser, syntaxErrorNodes } from '../../scripts/ps51Compat.js';
import { labSurfacesFile } from '../../src/lab/labSurfaces.js';
import { powershellFilePath } from '../../src/remote/powershell/operationScript.js';

function functionNames(text: string): string[] {
  return [...text.matchAll(/^function ([A-Za-z-]+) \{/gm)].map((match) => match[1]!);
}

describe('the lab surfaces of the SSH test bed', () => {
  const lab = readFileSync(labSurfacesFile(), 'utf8');

  it('define every function of the Windows surfaces, so the operations run unchanged over them', () => {
    const windows = functionNames(readFileSync(powershellFilePath('Surfaces.Windows.ps1'), 'utf8'));
    expect(windows.length).toBeGreaterThan(10);
    expect(functionNames(lab)).toEqual(expect.arrayContaining(windows));
  });

  it('parse with no ERROR or MISSING node', async () => {
    const parser = await powershellParser();
    const tree = parser.parse(lab)!;
    const errors = syntaxErrorNodes(tree.rootNode).map((node) => `${node.startPosition.row + 1}: ${node.text.slice(0, 60)}`);
    tree.delete();
    expect(errors).toEqual([]);
  });
});
