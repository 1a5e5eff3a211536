// What the warm warehouse's keeper (warm-keeper.ts) and its clients (warm-warehouse.ts) share: where
// a home's keeper is recorded, how to tell it is alive, and the frames they exchange.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import v8 from "node:v8";

/** Bumped whenever the frames change: a keeper of another version is stopped, never spoken to. */
export const WARM_PROTOCOL = 1;

/** The keeper's folder, beside the data directory (`<home>/warehouse.warm`): its record, socket and log, owner-only. */
export const warmDir = (dataDir: string) => `${dataDir}.warm`;
export const recordPath = (dataDir: string) => join(warmDir(dataDir), "keeper.json");
export const logPath = (dataDir: string) => join(warmDir(dataDir), "keeper.log");

export interface KeeperRecord {
  pid: number;
  /** The data directory it keeps: a record copied with a home names the original's, and is not this home's keeper. */
  dataDir: string;
  /** WARM_PROTOCOL and PGlite's version: what a client must match to use the keeper. */
  version: string;
  socket: string;
}

export function readRecord(dataDir: string): KeeperRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(dataDir), "utf8")) as KeeperRecord;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is this data directory's keeper still running: a process of that number whose
 * command line names the keeper and the directory (a pid reused by another process is not it).
 */
export function isKeeper(pid: number, dataDir: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false; // none, or (EPERM) another user's: not ours
  }
  let command: string;
  try {
    command = existsSync(`/proc/${pid}/cmdline`)
      ? readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")
      : execFileSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8" });
  } catch {
    return false; // gone meanwhile
  }
  return command.includes("warm-keeper") && command.includes(dataDir);
}

// Frames: a 4-byte big-endian length, then a value in V8's serialization (rows keep their Dates,
// byte arrays and numbers exactly as PGlite returned them).
export function frame(value: unknown): Buffer {
  const body = v8.serialize(value);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/** Collects frames from a stream's chunks; calls `onFrame` for each whole one. */
export function frameReader(onFrame: (value: unknown) => void): (chunk: Buffer) => void {
  // Chunks are kept as they come and joined once a frame is whole: joining on every chunk would copy
  // a 7 MB COPY frame a hundred times over.
  let chunks: Buffer[] = [];
  let held = 0;
  let need = 4;
  return (chunk) => {
    chunks.push(chunk);
    held += chunk.length;
    while (held >= need) {
      const pending = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, held);
      const length = pending.readUInt32BE(0);
      if (pending.length < 4 + length) {
        chunks = [pending];
        need = 4 + length;
        break;
      }
      onFrame(v8.deserialize(pending.subarray(4, 4 + length)));
      const rest = pending.subarray(4 + length);
      chunks = rest.length ? [rest] : [];
      held = rest.length;
      need = 4;
    }
  };
}

/** A request: one statement, one COPY, or a transaction's edge. */
export type WarmRequest =
  | { op: "query" | "columns"; sql: string }
  | { op: "copy"; table: string; columns: readonly string[]; csv: Uint8Array }
  | { op: "begin" | "commit" | "rollback" };

/** An error as PostgreSQL gave it: the fields the loader and the CLI read (code for retries, position for messages). */
export interface WarmError {
  message: string;
  fields: Record<string, unknown>;
}
export type WarmReply = { ok: true; value: unknown } | { ok: false; error: WarmError };

const ERROR_FIELDS = ["code", "severity", "detail", "hint", "position", "where", "schema", "table", "column", "constraint", "routine"];
export function errorReply(error: unknown): WarmReply {
  const e = error as Record<string, unknown> & { message?: string };
  const fields = Object.fromEntries(ERROR_FIELDS.filter((k) => e?.[k] !== undefined).map((k) => [k, e[k]]));
  return { ok: false, error: { message: String(e?.message ?? error), fields } };
}
