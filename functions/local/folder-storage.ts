// The Storage port over a local folder: one folder stands in for one bucket.
// Small objects are read and written with synchronous calls: on the machines measured, every
// asynchronous file-system call cost 0.1-0.7 ms of thread-pool round trip against ~0.05 ms done
// at once, and a day file's transform and load made some forty of them (a 153-file backfill spent
// a second and a half waiting). Large objects stream, so memory stays flat.
import { createReadStream, createWriteStream, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { chmod, copyFile, readdir, rm } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { once } from "node:events";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Storage, StoredObject } from "../app/ports.js";
import { WHOLE_READ_BYTES } from "../core/limits.js";

/**
 * Objects being written by this process (`<path>.<pid>.partial`), each with the opening of its file:
 * a file still being opened when the process is stopped would otherwise appear after the clean-up.
 */
const livePartials = new Map<string, Promise<unknown>>();
const PARTIAL = /\.(\d+)\.partial$/;

/** Removes this process's half-written objects, once the files being opened are open (at most 1 s). */
export async function removeLivePartials(): Promise<void> {
  const opening = Promise.allSettled(livePartials.values());
  await Promise.race([opening, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  for (const path of livePartials.keys()) rmSync(path, { force: true });
  livePartials.clear();
}

/** Whether a process of this machine is still running (EPERM: alive, but another user's). */
export const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Objects are readable by this user alone (raw copies hold names and card numbers). */
const PRIVATE = 0o600;

export class FolderStorage implements Storage {
  readonly name: string;

  constructor(readonly root: string) {
    this.name = resolve(root);
  }

  /** Maps a key to a path inside the folder; refuses keys that would escape it. */
  path(key: string): string {
    const path = resolve(this.name, key);
    if (!path.startsWith(this.name + sep)) throw new Error(`key escapes the bucket folder: ${JSON.stringify(key)}`);
    return path;
  }

  async get(key: string): Promise<StoredObject> {
    const path = this.path(key);
    let size: number;
    try {
      size = statSync(path).size;
    } catch (error) {
      throw (error as NodeJS.ErrnoException).code === "ENOENT" ? new Error(`${this.name}: no object ${key}`) : error;
    }
    if (size <= WHOLE_READ_BYTES) return { body: Readable.from([readFileSync(path)], { objectMode: false }), size };
    // Reads of a transform chunk's size: with 64 KB reads the 1M-sale transform took 20% more CPU.
    return { body: createReadStream(path, { highWaterMark: 256 * 1024 }), size };
  }

  /** Folders this object made or found, so that each is made once. */
  private readonly folders = new Set<string>();

  private folderFor(path: string): void {
    const folder = dirname(path);
    if (this.folders.has(folder)) return;
    // Only this user: a home's raw copies hold customers' names and card numbers.
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    this.folders.add(folder);
  }

  async put(key: string, body: Readable | string | Uint8Array): Promise<void> {
    // At once when the body is in memory: no signal can stop the process between write and rename.
    if (!(body instanceof Readable)) return this.writeAside(key, (partial) => writeFileSync(partial, body, { mode: PRIVATE }));
    return this.writeAside(key, (partial) => {
      const file = createWriteStream(partial, { mode: PRIVATE });
      return { opened: once(file, "ready"), written: pipeline(body, file) };
    });
  }

  /** Stores a copy of a local file (the upload of `coffeetl ingest`), copied by the kernel. */
  async putFile(key: string, source: string): Promise<void> {
    return this.writeAside(key, (partial) => {
      // copyFile keeps the source's mode (often 0644): the copy is made private before it is renamed in.
      const written = copyFile(source, partial).then(() => chmod(partial, PRIVATE));
      return { opened: written, written };
    });
  }

  /**
   * Writes an object aside (`<path>.<pid>.partial`) then renames it, so a reader never sees half
   * an object (as with S3); a failed write leaves nothing. An asynchronous write is registered
   * with its opening, for `removeLivePartials`.
   */
  private async writeAside(key: string, write: (partial: string) => void | { opened: Promise<unknown>; written: Promise<unknown> }): Promise<void> {
    const path = this.path(key);
    const partial = `${path}.${process.pid}.partial`;
    try {
      this.folderFor(path);
      const writing = write(partial);
      if (writing) {
        livePartials.set(partial, writing.opened);
        await writing.written;
      }
      renameSync(partial, path);
    } catch (error) {
      rmSync(partial, { force: true });
      // A full disk says so and names the file, whatever the writer made of it.
      if ((error as NodeJS.ErrnoException).code === "ENOSPC") throw new Error(`no space left on the device for ${path}`, { cause: error });
      throw error;
    } finally {
      livePartials.delete(partial);
    }
  }

  /** Removes half-written objects left by processes that no longer run (killed with SIGKILL, say). */
  async removeStalePartials(): Promise<string[]> {
    const removed: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const path = join(dir, entry.name);
        const pid = PARTIAL.exec(entry.name)?.[1];
        if (entry.isDirectory()) await walk(path);
        else if (pid && Number(pid) !== process.pid && !processAlive(Number(pid))) {
          await rm(path, { force: true });
          removed.push(path);
        }
      }
    };
    await walk(this.name);
    return removed;
  }

  async exists(key: string): Promise<boolean> {
    return statSync(this.path(key), { throwIfNoEntry: false })?.isFile() ?? false;
  }

  async *list(prefix: string): AsyncIterable<string> {
    const walk = async function* (dir: string): AsyncGenerator<string> {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) yield* walk(path);
        else if (!entry.name.endsWith(".partial")) yield path;
      }
    };
    for await (const path of walk(this.name)) {
      const key = relative(this.name, path).split(sep).join("/");
      if (key.startsWith(prefix)) yield key;
    }
  }

  uri(key: string): string {
    return this.path(key);
  }
}
