/**
 * Crash-safe JSON records: one file per object, written to a temporary file, fsynced, then renamed over the
 * old one, so a reader sees either the old record or the new one, never half of one, whichever process wrote it.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await fs.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify(value, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
  const dir = await fs.open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Files read at once: enough to overlap I/O, few enough that many callers never run out of descriptors. */
const READ_BATCH = 32;

/** The records named `files` (missing ones are skipped), read a batch at a time. */
export async function readJsonFiles<T>(files: string[]): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < files.length; i += READ_BATCH) {
    for (const r of await Promise.all(files.slice(i, i + READ_BATCH).map((f) => readJson<T>(f)))) if (r !== undefined) out.push(r);
  }
  return out;
}

/** Every record in `dir` (temporary files of writers in progress are skipped). */
export async function readAllJson<T>(dir: string): Promise<T[]> {
  const names = (await fs.readdir(dir)).filter((n) => n.endsWith('.json'));
  return readJsonFiles<T>(names.map((n) => path.join(dir, n)));
}

export async function removeFile(file: string): Promise<void> {
  await fs.rm(file, { force: true });
}
