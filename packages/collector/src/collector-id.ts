/**
 * This collector's identity in shared stream marks: a random id kept in `<dataDir>/collector-id`, so it survives
 * restarts with the same data directory. A collector that lost its directory gets a new id and treats its old
 * marks as another collector's (it skips rather than counts again: marks never make it count twice).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '@tallyhouse/model';

const FILE = 'collector-id';
const VALID = /^[0-9a-f-]{36}$/;

export function collectorId(dataDir: string): string {
  const path = join(dataDir, FILE);
  if (existsSync(path)) {
    const id = readFileSync(path, 'utf8').trim();
    if (VALID.test(id)) return id;
  }
  const id = randomUUID();
  writeFileDurably(path, `${id}\n`);
  return id;
}
