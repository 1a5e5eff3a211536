// The Storage port over a local folder: one folder stands in for one bucket.
import { createReadStream, createWriteStream, rmSync } from "node:fs";
import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { once } from "node:events";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Storage, StoredObject } from "../app/ports.js";

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

const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

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
    const { size } = await stat(path).catch((error: NodeJS.ErrnoException) => {
      throw error.code === "ENOENT" ? new Error(`${this.name}: no object ${key}`) : error;
    });
    // Reads of a transform chunk's size: with 64 KB reads the 1M-sale transform took 20% more CPU.
    return { body: createReadStream(path, { highWaterMark: 256 * 1024 }), size };
  }

  async put(key: string, body: Readable | string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    // Written aside then renamed, so a reader never sees half an object (as with S3).
    const partial = `${path}.${process.pid}.partial`;
    try {
      if (typeof body === "string") {
        const writing = writeFile(partial, body);
        livePartials.set(partial, writing);
        await writing;
      } else {
        const file = createWriteStream(partial);
        livePartials.set(partial, once(file, "ready"));
        await pipeline(body, file);
      }
      await rename(partial, path);
    } catch (error) {
      await rm(partial, { force: true });
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
    return stat(this.path(key)).then(
      (s) => s.isFile(),
      () => false,
    );
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
