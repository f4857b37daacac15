/**
 * PowerShell started with `-NonInteractive` from another program (over SSH, or as the local remoting
 * host) writes its error stream to stderr as CLIXML:
 *
 *   #< CLIXML
 *   <Objs Version="1.1.0.1" xmlns="…"><S S="Error">Access is denied._x000D__x000A_</S>…</Objs>
 *
 * Shown as it is, that reaches operators as markup. This turns it back into the text PowerShell meant.
 */

const CLIXML_MARKER = '#< CLIXML';

/** stderr as an operator should read it: CLIXML error records as plain lines, anything else as it is. */
export function readableStderr(text: string): string {
  const start = text.indexOf(CLIXML_MARKER);
  if (start < 0) return text;
  const before = text.slice(0, start);
  const xml = text.slice(start + CLIXML_MARKER.length);
  const lines: string[] = [];
  for (const match of xml.matchAll(/<S S="(?:Error|Warning|Information|Verbose|Debug)">([\s\S]*?)<\/S>/g)) {
    lines.push(decodeClixmlString(match[1]!));
  }
  // Records split mid-line (PowerShell writes each line in pieces); join, then tidy the line ends.
  const decoded = lines
    .join('')
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line !== '')
    .join('\n');
  const rest = xml.replace(/<Objs[\s\S]*?<\/Objs>/g, '').trim();
  return [before.trim(), decoded, rest].filter((part) => part !== '').join('\n');
}

function decodeClixmlString(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}
