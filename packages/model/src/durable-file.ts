import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes a file atomically and durably: temp file, fsync, rename, fsync of the directory. */
export function writeFileDurably(path: string, data: string | Uint8Array) {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w');
  try {
    writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  fsyncDirectory(dirname(path));
}

/** Makes a directory's entries (a created, renamed or removed file) durable. */
export function fsyncDirectory(directory: string) {
  const fd = openSync(directory, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `writeSync` may write less than asked (a large buffer, a full pipe): loop until all is written. */
export function writeAll(fd: number, data: Uint8Array) {
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset);
}
