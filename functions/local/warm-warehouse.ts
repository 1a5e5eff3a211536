// The warm warehouse (docs/design.md §10): a home's embedded warehouse kept open between commands by
// a keeper process (warm-keeper.ts), so an everyday command skips PGlite's start. Only a command
// holding the home's lock starts, uses or stops a keeper; while a keeper lives it is the data
// directory's one opener, and anything that opens the directory itself stops the keeper first.
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
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
const version = () => `${WARM_PROTOCOL}/${pgliteVersion()}/${Math.round(statSync(keeperCommand().at(-1)!).mtimeMs)}`;
/** How long a keeper may take to open the warehouse (a new home may make the machine's template first). */
const START_TIMEOUT_MS = 120_000;
/** How long a keeper asked to stop may take to close the warehouse before it is killed. */
const STOP_TIMEOUT_MS = 15_000;
// Unix socket paths are limited to about 104 bytes; a deeper home gets a private folder under the temporary directory.
const MAX_SOCKET_PATH = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The home's warehouse through its keeper, starting one if none is running (the caller holds the
 * home's lock). `idleSeconds`: how long the keeper waits for the next command before it exits.
 */
export async function openWarm(dataDir: string, idleSeconds: number): Promise<Database> {
  const record = readRecord(dataDir);
  if (record && record.version === version() && isKeeper(record.pid, dataDir)) {
    const socket = await connect(record.socket).catch(() => undefined);
    if (socket) return client(socket);
  }
  // None, stale, of another version, or not answering: stop it, then start this one's.
  await stopWarm(dataDir);
  return client(await startKeeper(dataDir, idleSeconds));
}

/** Stops the home's keeper, if one runs, and waits until it has closed the warehouse (the caller holds the home's lock). */
export async function stopWarm(dataDir: string): Promise<void> {
  const record = readRecord(dataDir);
  if (!record) return;
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
}

/** The keeper's entry beside this module: .js in the CLI's bundle (dist/cli), .ts under tsx. */
function keeperCommand(): string[] {
  const extension = extname(fileURLToPath(import.meta.url));
  const script = fileURLToPath(new URL(`./warm-keeper${extension}`, import.meta.url));
  return extension === ".ts" ? ["--import", fileURLToPath(import.meta.resolve("tsx")), script] : [script];
}

async function startKeeper(dataDir: string, idleSeconds: number): Promise<Socket> {
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
  // Recorded before this command lets the home go: a later command sees the keeper even before it answers.
  const record: KeeperRecord = { pid: child.pid!, version: version(), socket: socketPath };
  writeFileSync(`${recordPath(dataDir)}.new`, JSON.stringify(record) + "\n", { mode: 0o600 });
  renameSync(`${recordPath(dataDir)}.new`, recordPath(dataDir));
  let exited: number | null | undefined;
  child.on("exit", (code) => (exited = code));
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const socket = await connect(socketPath).catch(() => undefined);
    if (socket) return socket;
    if (exited !== undefined) throw new Error(`the warm warehouse could not start (exit ${exited}): ${lastLines(logPath(dataDir))}`);
    if (Date.now() > deadline) {
      await stopWarm(dataDir);
      throw new Error(`the warm warehouse did not start within ${START_TIMEOUT_MS / 1000} s (log: ${logPath(dataDir)})`);
    }
    await sleep(5);
  }
}

/**
 * The keeper outlives the command, so it gets only what it needs: never the transaction-id key,
 * AWS credentials or a database URL the command was given.
 */
const KEEPER_ENV = /^(PATH|HOME|TMPDIR|TZ|LANG|LC_\w+|NODE_OPTIONS|COFFEETL_CACHE_DIR|XDG_CACHE_HOME)$/;
function keeperEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => KEEPER_ENV.test(name)));
}

function lastLines(path: string): string {
  try {
    return readFileSync(path, "utf8").trim().split("\n").slice(-5).join(" | ");
  } catch {
    return "(no log)";
  }
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
