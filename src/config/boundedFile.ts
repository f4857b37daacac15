import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';

/** No configuration or reference file comes near this; a bigger one is a mistake (a wrong path, a device). */
export const MAX_CONFIG_FILE_BYTES = 32 * 1024 * 1024;

// Opening a FIFO for reading waits for a writer; O_NONBLOCK makes open return at once (POSIX; Windows
// has no FIFOs in the file system and ignores the flag), and the fstat below then refuses it.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/**
 * Reads a file the operator named that must be a regular file of bounded size: a device
 * (`/dev/zero`, `/dev/urandom`, `CON`), a FIFO, a socket or a folder is refused before a byte is
 * read, instead of being read until memory runs out or waiting forever for a writer. `what` names
 * the kind of file in the size message ("a configuration file"). Throws the file system's error
 * (ENOENT, EACCES, ELOOP) for the caller to word.
 */
export function readBoundedText(absolute: string, what: string, maxBytes: number = MAX_CONFIG_FILE_BYTES): string | { problem: string } {
  // Checked before opening: a FIFO opened without O_NONBLOCK (Windows named pipes) would block here.
  const before = statSync(absolute);
  if (!before.isFile()) return { problem: notRegular(before.isDirectory()) };
  const fd = openSync(absolute, OPEN_FLAGS);
  try {
    // Checked again on what was opened: the path may have been swapped between the two.
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { problem: notRegular(stat.isDirectory()) };
    if (stat.size > maxBytes) return { problem: `is ${stat.size} bytes; ${what} is at most ${maxBytes} bytes` };
    const buffer = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      // The file grew while being read past the bound.
      if (length === buffer.length) return { problem: `is larger than ${maxBytes} bytes or still growing` };
    }
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function notRegular(isDirectory: boolean): string {
  return `is not a regular file (${isDirectory ? 'a folder' : 'a device, pipe or socket'}); name a JSON file`;
}
