// Running files through the local pipeline for `ingest` and `reprocess`: the progress display, and
// half-written objects removed whether a run fails, is interrupted or was killed before.
import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { removeLivePartials } from "../functions/local/folder-storage.js";
// Types only: the pipeline (and PGlite with it) loads in openHome, after PGlite's compilation has started.
import type { FileReport, LocalPipelineOptions } from "../functions/local/pipeline.js";
import { openHome, type Connection } from "./home.js";
import { IngestProgress } from "./progress.js";
import { LIGHT_INGEST_BYTES } from "../functions/core/limits.js";

export function splitMissing(paths: string[]): { present: string[]; missing: string[] } {
  const present: string[] = [];
  const missing: string[] = [];
  for (const path of paths) (existsSync(resolve(path)) ? present : missing).push(path);
  return { present, missing };
}

/** Stops on SIGINT/SIGTERM/SIGHUP without leaving `*.partial` objects behind; exit 128 + signal number. */
function removePartialsOnSignal(): () => void {
  const numbers = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
  const handlers = Object.entries(numbers).map(([signal, n]) => {
    const handler = () => {
      void removeLivePartials().finally(() => {
        process.stderr.write(`\ncoffeetl: stopped by ${signal}; half-written files removed\n`);
        process.exit(128 + n);
      });
    };
    process.once(signal, handler);
    return () => process.off(signal, handler);
  });
  return () => handlers.forEach((off) => off());
}

/** The bytes the run will read: the files given and the .csv files in the folders given (as expandPaths finds them). */
async function inputBytes(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.size;
  let bytes = 0;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (entry.isDirectory()) bytes += await inputBytes(join(path, entry.name));
    else if (entry.name.toLowerCase().endsWith(".csv")) bytes += (await stat(join(path, entry.name))).size;
  }
  return bytes;
}

async function engineForFiles(paths: string[]): Promise<"light" | "heavy"> {
  let bytes = 0;
  try {
    for (const path of paths) bytes += await inputBytes(resolve(path));
  } catch {
    return "heavy"; // the run itself reports what is wrong with the paths
  }
  return bytes <= LIGHT_INGEST_BYTES ? "light" : "heavy";
}

export async function runFiles(
  connection: Connection,
  paths: string[],
  options: Pick<LocalPipelineOptions, "threads">,
  onReport: (report: FileReport) => void,
): Promise<FileReport[]> {
  const local = await openHome(connection, { ...options, engine: await engineForFiles(paths), arrayTypes: false });
  const stopWatching = removePartialsOnSignal();
  try {
    await Promise.all([local.raw.removeStalePartials(), local.transformed.removeStalePartials()]);
    const { expandPaths } = await import("../functions/local/pipeline.js");
    const files = await expandPaths(paths, local.raw.name);
    const progress = new IngestProgress(process.stderr, files.length);
    try {
      return await local.ingest(paths, {
        onFileStart: (path, size) => progress.fileStart(path, size),
        onProgress: (path, read, size) => progress.transformProgress(path, read, size),
        onLoadStart: (batch, rows) => progress.loadStart(batch, rows),
        onFileDone(report) {
          progress.fileDone(report);
          onReport(report);
        },
      });
    } finally {
      progress.stop();
    }
  } finally {
    stopWatching();
    await local.close();
  }
}
