// The warm warehouse (docs/design.md §10): a home's embedded warehouse kept open between commands by
// a keeper process (warm-keeper.ts), so an everyday command skips PGlite's start. A command that
// finds no keeper opens the warehouse itself and hands it to a new keeper when it closes. Only a
// command holding the home's lock starts, uses or stops a keeper; while a keeper lives it is the data
// directory's one opener, and anything that opens the directory itself stops the keeper first.
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Database, Session } from "./database.js";
import {
  WARM_PROTOCOL,
  frame,
  frameReader,
  isKeeper,
  logPath,
  readRecord,
  recordPath,
  warmDir,
  type KeeperRecord,
  type WarmReply,
  type WarmRequest,
} from "./warm-protocol.js";
import { pgliteVersion } from "./warehouse-template.js";

/** A keeper of another protocol, PGlite or build of its own code (a reinstall, a rebuild) is stopped, not used. */
let builtVersion: string | undefined;
const version = () => (builtVersion ??= `${WARM_PROTOCOL}/${pgliteVersion()}/${Math.round(statSync(keeperCommand().at(-1)!).mtimeMs)}`);
/** How long a command waits for a keeper still opening the warehouse before it stops it and opens the warehouse itself. */
const START_TIMEOUT_MS = 60_000;
/** How long a keeper asked to stop may take to close the warehouse before it is killed. */
const STOP_TIMEOUT_MS = 15_000;
// Unix socket paths are limited to about 104 bytes; a deeper home gets a private folder under the temporary directory.
const MAX_SOCKET_PATH = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The home's warehouse through its running keeper (the caller holds the home's lock), waiting for
 * one still starting; undefined when none runs: the caller opens the warehouse itself and hands it
 * to a new keeper when it closes (startKeeper), so a command never waits for a keeper to start.
 */
export async function openWarm(dataDir: string): Promise<Database | undefined> {
  const record = readRecord(dataDir);
  if (record && record.dataDir === dataDir && record.version === version()) {
    const deadline = Date.now() + START_TIMEOUT_MS;
    // A keeper handed the warehouse by the last command may still be opening it.
    while (isKeeper(record.pid, dataDir) && Date.now() < deadline) {
      const socket = await connect(record.socket).catch(() => undefined);
      if (socket) return client(socket);
      await sleep(5);
    }
  }
  // None, stale, of another version, or not answering: stop it; the caller opens the warehouse itself.
  await stopWarm(dataDir);
  return undefined;
}

/** Stops the home's keeper, if one runs, and waits until it has closed the warehouse (the caller holds the home's lock). */
export async function stopWarm(dataDir: string): Promise<void> {
  const record = readRecord(dataDir);
  if (!record) return;
  // A record copied with the home (another home's keeper): only the record goes.
  if (record.dataDir !== dataDir) return rmSync(recordPath(dataDir), { force: true });
  if (isKeeper(record.pid, dataDir)) {
    process.kill(record.pid, "SIGTERM");
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (isKeeper(record.pid, dataDir) && Date.now() < deadline) await sleep(10);
    if (isKeeper(record.pid, dataDir)) {
      process.kill(record.pid, "SIGKILL");
      while (isKeeper(record.pid, dataDir)) await sleep(10);
    }
  }
  rmSync(recordPath(dataDir), { force: true });
  rmSync(record.socket, { force: true });
  if (dirname(record.socket) !== warmDir(dataDir)) rmSync(dirname(record.socket), { recursive: true, force: true });
}

/** The keeper's entry beside this module: .js in the CLI's bundle (dist/cli), .ts under tsx. */
function keeperCommand(): string[] {
  const extension = extname(fileURLToPath(import.meta.url));
  const script = fileURLToPath(new URL(`./warm-keeper${extension}`, import.meta.url));
  return extension === ".ts" ? ["--import", fileURLToPath(import.meta.resolve("tsx")), script] : [script];
}

/**
 * Starts a keeper for a data directory no process has open (the caller has just closed it and still
 * holds the home's lock), without waiting for it: it opens the warehouse after this command has gone,
 * and the next command waits for it (openWarm). Recorded before the caller lets the home go.
 */
export function startKeeper(dataDir: string, idleSeconds: number): void {
  const dir = warmDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const nearby = join(dir, "socket");
  const socketPath = Buffer.byteLength(nearby) <= MAX_SOCKET_PATH ? nearby : join(mkdtempSync(join(tmpdir(), "coffeetl-warm-")), "socket");
  const out = openSync(logPath(dataDir), "a", 0o600);
  const child = spawn(process.execPath, [...keeperCommand(), dataDir, String(idleSeconds), socketPath], {
    detached: true,
    stdio: ["ignore", out, out],
    env: keeperEnv(),
  });
  closeSync(out);
  child.unref();
  const record: KeeperRecord = { pid: child.pid!, dataDir, version: version(), socket: socketPath };
  writeFileSync(`${recordPath(dataDir)}.new`, JSON.stringify(record) + "\n", { mode: 0o600 });
  renameSync(`${recordPath(dataDir)}.new`, recordPath(dataDir));
}

/**
 * The keeper outlives the command, so it gets only what it needs: never the transaction-id key,
 * AWS credentials or a database URL the command was given.
 */
const KEEPER_ENV = /^(PATH|HOME|TMPDIR|TZ|LANG|LC_\w+|NODE_OPTIONS|COFFEETL_CACHE_DIR|XDG_CACHE_HOME)$/;
function keeperEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => KEEPER_ENV.test(name)));
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** A Database whose statements the keeper runs, one at a time and in order. */
function client(socket: Socket): Database {
  const pending: { resolve(reply: WarmReply): void }[] = [];
  let lost: Error | undefined;
  socket.on(
    "data",
    frameReader((reply) => pending.shift()?.resolve(reply as WarmReply)),
  );
  const fail = (error?: Error) => {
    lost ??= new Error(`the warm warehouse stopped answering${error ? ` (${error.message})` : ""}; the next command starts it again`);
    for (const waiter of pending.splice(0)) waiter.resolve({ ok: false, error: { message: lost.message, fields: {} } });
  };
  socket.on("error", fail);
  socket.on("close", () => fail());
  let queue: Promise<unknown> = Promise.resolve();
  const ask = <T>(request: WarmRequest): Promise<T> => {
    const asked = queue.then(
      () =>
        new Promise<T>((resolve, reject) => {
          if (lost) return reject(lost);
          pending.push({
            resolve: (reply) => (reply.ok ? resolve(reply.value as T) : reject(Object.assign(new Error(reply.error.message), reply.error.fields))),
          });
          socket.write(frame(request));
        }),
    );
    queue = asked.catch(() => undefined);
    return asked;
  };
  const session: Session = {
    query: (sql) => ask({ op: "query", sql }),
    queryColumns: (sql) => ask({ op: "columns", sql }),
    async copyCsv(table, columns, body) {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      await ask({ op: "copy", table, columns, csv: Buffer.concat(chunks) });
    },
  };
  return {
    session,
    async transaction(work) {
      await ask({ op: "begin" });
      try {
        const result = await work(session);
        await ask({ op: "commit" });
        return result;
      } catch (error) {
        await ask({ op: "rollback" }).catch(() => undefined);
        throw error;
      }
    },
    close: () =>
      new Promise((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once("close", () => resolve());
        socket.end();
      }),
    embedded: true,
  };
}
