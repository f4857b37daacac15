/**
 * The text `JSON.stringify(value, null, 2)` would give for an object, handed out in pieces of about
 * `chunkChars` characters, so that printing a large object never holds all of its text at once.
 * `--hotfix-plan --json` on 50,000 instances is some 55 MB of JSON: as one string (two bytes a
 * character once a message holds "→") plus its UTF-8 copy for stdout, it was most of the
 * command's peak memory. The arrays directly under the object (the plan's targets) are
 * serialized one element at a time; everything else as a whole.
 */
export function* jsonChunks(value: Readonly<Record<string, unknown>>, chunkChars = 1 << 16): Generator<string, void, undefined> {
  let text = '{';
  let members = 0;
  for (const [key, member] of Object.entries(value)) {
    // JSON.stringify leaves out members it cannot represent.
    if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
    text += `${members++ === 0 ? '' : ','}\n  ${JSON.stringify(key)}: `;
    if (!Array.isArray(member) || member.length === 0) {
      text += indent(JSON.stringify(member, null, 2), '  ');
      continue;
    }
    text += '[';
    for (let i = 0; i < member.length; i++) {
      // An element JSON cannot represent is written as null, as JSON.stringify does.
      text += `${i === 0 ? '' : ','}\n    ${indent(JSON.stringify(member[i], null, 2) ?? 'null', '    ')}`;
      if (text.length >= chunkChars) {
        yield text;
        text = '';
      }
    }
    text += '\n  ]';
  }
  yield members === 0 ? `${text}}` : `${text}\n}`;
}

// JSON text has no raw line breaks inside strings, so every line break starts a new line of layout.
function indent(json: string, by: string): string {
  return json.replace(/\n/g, `\n${by}`);
}
