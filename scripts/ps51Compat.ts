import { createRequire } from 'node:module';
import { Language, type Node, Parser } from 'web-tree-sitter';

/**
 * Checks PowerShell source for what Windows PowerShell 5.1 cannot run: the target-side operations are
 * only ever executed under PowerShell 7 here, so a 7-only construct would pass every test and fail on
 * the first real server. Walks the tree-sitter-powershell syntax tree; constructs that grammar cannot
 * parse (`??`, `?.`, the ternary) show up as ERROR nodes and are recognised from the source around them.
 */

export interface PowerShellProblem {
  /** 1-based line and column. */
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

let parserPromise: Promise<Parser> | undefined;

/** A web-tree-sitter parser with the PowerShell grammar loaded (once per process). */
export function powershellParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const wasm = createRequire(import.meta.url).resolve('tree-sitter-powershell/tree-sitter-powershell.wasm');
    const parser = new Parser();
    parser.setLanguage(await Language.load(wasm));
    return parser;
  })();
  return parserPromise;
}

function at(node: Node, message: string): PowerShellProblem {
  return { line: node.startPosition.row + 1, column: node.startPosition.column + 1, message };
}

/** ERROR and MISSING nodes: source the grammar could not parse. */
export function syntaxErrorNodes(root: Node): Node[] {
  const found: Node[] = [];
  const walk = (node: Node): void => {
    if (node.isError || node.isMissing) {
      found.push(node);
      return;
    }
    for (const child of node.children) walk(child);
  };
  walk(root);
  return found;
}

const SINCE_6 = 'PowerShell 6+';
const SINCE_7 = 'PowerShell 7+';

/** Commands that Windows PowerShell 5.1 does not have. */
const MISSING_COMMANDS: Readonly<Record<string, string>> = {
  'get-error': SINCE_7,
  'join-string': SINCE_7,
  'test-json': SINCE_6,
  'convertfrom-markdown': SINCE_6,
  'show-markdown': SINCE_6,
  'get-markdownoption': SINCE_6,
  'set-markdownoption': SINCE_6,
  'get-uptime': SINCE_6,
  'remove-service': SINCE_6,
  'remove-alias': SINCE_6,
  'start-threadjob': 'the ThreadJob module (not shipped with 5.1)',
  'get-experimentalfeature': SINCE_6,
  'enable-experimentalfeature': SINCE_6,
  'disable-experimentalfeature': SINCE_6,
  'get-psubsystem': SINCE_7,
  'convertto-clixml': 'PowerShell 7.5+',
  'convertfrom-clixml': 'PowerShell 7.5+',
  'get-securerandom': 'PowerShell 7.4+',
};

/** Parameters that 5.1's version of a command lacks. */
const MISSING_PARAMETERS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'convertfrom-json': { ashashtable: SINCE_6, depth: SINCE_6, noenumerate: SINCE_7, datekind: 'PowerShell 7.5+' },
  'convertto-json': { asarray: SINCE_6, escapehandling: SINCE_6, enumsasstrings: SINCE_7 },
  'foreach-object': { parallel: SINCE_7, throttlelimit: SINCE_7, timeoutseconds: SINCE_7, asjob: SINCE_7, usenewrunspace: SINCE_7 },
  'get-content': { asbytestream: SINCE_6 },
  'set-content': { asbytestream: SINCE_6 },
  'add-content': { asbytestream: SINCE_6 },
  'get-date': { asutc: SINCE_7, unixtimeseconds: SINCE_7 },
  'join-path': { additionalchildpath: SINCE_6 },
  'split-path': { leafbase: SINCE_6, extension: SINCE_6 },
  'select-string': { raw: SINCE_7, noemphasis: SINCE_7 },
  'sort-object': { top: SINCE_7, bottom: SINCE_7, stable: SINCE_7 },
  'get-childitem': { followsymlink: SINCE_6 },
  'get-random': { shuffle: SINCE_7 },
  'start-sleep': { duration: 'PowerShell 7.3+' },
  'start-process': { environment: 'PowerShell 7.4+' },
  'import-module': { usewindowspowershell: SINCE_7 },
  'test-connection': { targetname: SINCE_6, tcpport: SINCE_6, traceroute: SINCE_6, mtusize: SINCE_6 },
  'invoke-webrequest': { skipcertificatecheck: SINCE_6, sslprotocol: SINCE_6, authentication: SINCE_6, skiphttperrorcheck: SINCE_7 },
  'invoke-restmethod': { skipcertificatecheck: SINCE_6, sslprotocol: SINCE_6, authentication: SINCE_6, skiphttperrorcheck: SINCE_7 },
  'new-pssession': { hostname: SINCE_6, sshtransport: SINCE_6, keyfilepath: SINCE_6, sshconnection: SINCE_6 },
  'invoke-command': { hostname: SINCE_6, sshtransport: SINCE_6, keyfilepath: SINCE_6, sshconnection: SINCE_6 },
  'enter-pssession': { hostname: SINCE_6, sshtransport: SINCE_6, keyfilepath: SINCE_6 },
};

/** Encoding names that 5.1's file cmdlets reject. */
const MISSING_ENCODINGS = new Set(['utf8nobom', 'utf8bom', 'ansi']);

/** Automatic variables that do not exist in 5.1 (reading one yields $null, or fails under strict mode). */
const MISSING_VARIABLES: Readonly<Record<string, string>> = {
  psstyle: 'PowerShell 7.2+',
  iswindows: `${SINCE_6}; use [System.Environment]::OSVersion.Platform`,
  islinux: SINCE_6,
  ismacos: SINCE_6,
  iscoreclr: SINCE_6,
  psnativecommandargumentpassing: 'PowerShell 7.3+',
  psnativecommanduseerroractionpreference: 'PowerShell 7.3+',
  enabledexperimentalfeatures: SINCE_6,
};

function variableName(node: Node): string {
  // `$name`, `$script:name`, `${name}`: the bare name, lower-cased.
  return node.text
    .replace(/^[$@]\{?/, '')
    .replace(/\}$/, '')
    .replace(/^[a-z]+:/i, '')
    .toLowerCase();
}

/** Names what an ERROR node most likely stands for, from the source text where it starts. */
function describeSyntaxError(node: Node, source: string): string {
  const from = node.startIndex;
  const text = source.slice(from, Math.max(node.endIndex, from + 1) + 2);
  const question = text.indexOf('?');
  if (question >= 0) {
    const after = text.slice(question + 1);
    if (after.startsWith('?=')) return `null-coalescing assignment "??=" (${SINCE_7})`;
    if (after.startsWith('?')) return `null-coalescing operator "??" (${SINCE_7})`;
    if (after.startsWith('.')) return `null-conditional member access "?." (${SINCE_7})`;
    if (after.startsWith('[')) return `null-conditional index "?[" (${SINCE_7})`;
    return `ternary operator "a ? b : c" (${SINCE_7})`;
  }
  if (/(^|[^&])&$/.test(node.text.trim())) return `background operator "&" (${SINCE_6})`;
  if (/\bclean\b/i.test(node.text)) return 'clean block (PowerShell 7.3+)';
  return `syntax that is not valid Windows PowerShell 5.1 ("${node.text.trim().slice(0, 40)}")`;
}

function checkCommand(node: Node, problems: PowerShellProblem[]): void {
  const nameNode = node.children.find((child) => child.type === 'command_name');
  if (!nameNode) return;
  const name = nameNode.text.toLowerCase();
  const missing = MISSING_COMMANDS[name];
  if (missing) problems.push(at(nameNode, `command ${nameNode.text} does not exist in Windows PowerShell 5.1 (${missing})`));
  const elements = node.children.find((child) => child.type === 'command_elements');
  if (!elements) return;
  const parameters = MISSING_PARAMETERS[name];
  const arguments_ = elements.namedChildren.filter((child) => child.type !== 'command_argument_sep');
  arguments_.forEach((element, index) => {
    if (element.type !== 'command_parameter') return;
    const written = element.text.replace(/^-/, '').replace(/:.*$/, '').toLowerCase();
    if (parameters && written.length >= 3) {
      // PowerShell accepts any unambiguous prefix of a parameter name.
      const match = Object.keys(parameters).find((parameter) => parameter.startsWith(written));
      if (match) problems.push(at(element, `${nameNode.text} -${element.text.replace(/^-/, '')} is not in Windows PowerShell 5.1 (${parameters[match]})`));
    }
    if (written === 'encoding') {
      const value = arguments_[index + 1]?.text.replace(/^['"]|['"]$/g, '').toLowerCase();
      if (value && MISSING_ENCODINGS.has(value)) problems.push(at(element, `-Encoding ${value} is not accepted by Windows PowerShell 5.1`));
    }
  });
  // 7.3's `clean { }` block reads as a call of a command named "clean" to this grammar.
  if (name === 'clean' && arguments_.length === 1 && arguments_[0]?.descendantsOfType('script_block_expression').length) {
    problems.push(at(nameNode, 'clean block (PowerShell 7.3+)'));
  }
}

function checkReplaceWithScriptBlock(operator: Node, problems: PowerShellProblem[]): void {
  if (!/^-[ic]?replace$/i.test(operator.text)) return;
  const right = operator.nextNamedSibling;
  if (!right) return;
  // `-replace 'x', { ... }`: 5.1 turns the script block into its text instead of calling it.
  const queue: Node[] = [right];
  while (queue.length) {
    const node = queue.shift()!;
    if (node.type === 'script_block_expression') {
      problems.push(at(operator, `-replace with a script block substitution (${SINCE_6})`));
      return;
    }
    if (node.type === 'script_block' || node.type === 'parenthesized_expression') continue;
    queue.push(...node.namedChildren);
  }
}

function checkEscapes(node: Node, problems: PowerShellProblem[]): void {
  const text = node.text;
  for (let index = 0; index < text.length - 1; index++) {
    if (text[index] !== '`') continue;
    const next = text[index + 1];
    if (next === 'e') problems.push(at(node, `escape \`e in a string (${SINCE_6}; use [char]27)`));
    if (next === 'u' && text[index + 2] === '{') problems.push(at(node, `escape \`u{…} in a string (${SINCE_6}; use [char]0x…)`));
    index++;
  }
}

/** Everything in the source that Windows PowerShell 5.1 would reject or run differently. */
export function findPowerShell51Problems(source: string, parser: Parser): PowerShellProblem[] {
  const tree = parser.parse(source);
  if (!tree) throw new Error('the PowerShell grammar returned no tree');
  const problems: PowerShellProblem[] = [];
  try {
    for (const node of syntaxErrorNodes(tree.rootNode)) problems.push(at(node, describeSyntaxError(node, source)));
    const walk = (node: Node): void => {
      switch (node.type) {
        case 'pipeline_chain_tail':
          problems.push(at(node, `pipeline chain operator "${node.text.trim().slice(0, 2)}" (${SINCE_7})`));
          break;
        case 'command':
          checkCommand(node, problems);
          break;
        case 'variable': {
          const missing = MISSING_VARIABLES[variableName(node)];
          if (missing) problems.push(at(node, `variable ${node.text} does not exist in Windows PowerShell 5.1 (${missing})`));
          break;
        }
        case 'comparison_operator':
          checkReplaceWithScriptBlock(node, problems);
          break;
        case 'expandable_string_literal':
        case 'expandable_here_string_literal':
          checkEscapes(node, problems);
          break;
        default:
          break;
      }
      for (const child of node.children) walk(child);
    };
    walk(tree.rootNode);
  } finally {
    tree.delete();
  }
  // Windows PowerShell 5.1 reads a file without a byte order mark in the ANSI code page.
  const nonAscii = /[^\x00-\x7f]/.exec(source);
  if (nonAscii && !source.startsWith('\uFEFF')) {
    const before = source.slice(0, nonAscii.index);
    const line = before.split('\n').length;
    problems.push({
      line,
      column: nonAscii.index - before.lastIndexOf('\n'),
      message: 'non-ASCII character in a file without a byte order mark (5.1 reads it in the ANSI code page)',
    });
  }
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}
