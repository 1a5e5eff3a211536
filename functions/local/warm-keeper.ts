// The warm warehouse's keeper: a process that holds one home's embedded warehouse open between
// commands, so a command talks to a started PostgreSQL instead of starting PGlite itself (~0.45 s).
// Started by a command that has just closed the warehouse, while it still holds the home's lock
// (warm-warehouse.ts), it is the data directory's one opener while it lives.
// Usage: node warm-keeper.js DATA_DIR IDLE_SECONDS SOCKET
import { existsSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import type { Database } from "./database.js";
import { openPglite } from "./postgres-warehouse.js";
import { errorReply, frame, frameReader, readRecord, recordPath, warmDir, type WarmReply, type WarmRequest } from "./warm-protocol.js";

const [dataDir, idleArg, socketPath] = process.argv.slice(2);
if (!dataDir || !socketPath) throw new Error("usage: warm-keeper DATA_DIR IDLE_SECONDS SOCKET");
const idleMs = Math.max(1, Number(idleArg) || 300) * 1000;
/**
 * The warehouse opens a second after the command that started the keeper has gone, or at once when
 * a command asks for it: a home removed right after its command (a test's temporary folder, a
 * user's `rm -r`) is then gone before PostgreSQL writes into it, and the keeper leaves without a trace.
 */
const OPEN_AFTER_MS = 1000;
// What isKeeper (warm-protocol.ts) looks for in the command line, which the title replaces.
process.title = `coffeetl warm-keeper ${dataDir}`;
const log = (message: string) => process.stdout.write(`${new Date().toISOString()} [${process.pid}] ${message}\n`);

/** Whether the home is still there and this process still its keeper: else there is nothing to keep. */
const stillKept = () => existsSync(dataDir) && readRecord(dataDir)?.pid === process.pid;

let opening: Promise<Database> | undefined;
/** The warehouse, opened once. Array types on: `sql` may return arrays; other statements return none either way. */
function warehouse(): Promise<Database> {
  opening ??= openPglite(dataDir!, "light", true, true).then(
    (database) => {
      log("warehouse open");
      return database;
    },
    (error: Error) => {
      // The command waiting gets the error; the next one opens the warehouse itself.
      void stop(`the warehouse did not open: ${error.message}`);
      throw error;
    },
  );
  return opening;
}

async function answer(request: WarmRequest): Promise<unknown> {
  const { session } = await warehouse();
  switch (request.op) {
    case "query":
      return session.query(request.sql);
    case "columns":
      return session.queryColumns(request.sql);
    case "copy":
      return session.copyCsv(request.table, request.columns, Readable.from([Buffer.from(request.csv)]));
    case "begin":
    case "commit":
    case "rollback":
      await session.query(request.op.toUpperCase());
      return undefined;
  }
}

/**
 * What a command left behind goes with it, as when its own process ended: an open transaction
 * (a command killed mid-load) is rolled back, and settings, role, temporary tables and prepared
 * plans are discarded, so each command starts on a session as fresh as a new connection's.
 */
async function freshSession(): Promise<void> {
  if (!opening) return;
  const { session } = await warehouse();
  await session.query("ROLLBACK").catch(() => undefined);
  await session.query("DISCARD ALL").catch((error: Error) => log(`discard: ${error.message}`));
}

/** Clients are served one at a time, in arrival order (the home's lock already lets one command in at a time). */
const waiting: Socket[] = [];
let serving: Socket | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let stopping = false;

function serve(socket: Socket): void {
  serving = socket;
  clearTimeout(idleTimer);
  // One request at a time per client, answered in order.
  let queue = Promise.resolve();
  socket.on(
    "data",
    frameReader((request) => {
      queue = queue.then(async () => {
        const reply: WarmReply = await answer(request as WarmRequest).then(
          (value) => ({ ok: true, value }) as const,
          (error: unknown) => errorReply(error),
        );
        if (!socket.destroyed) socket.write(frame(reply));
      });
    }),
  );
  socket.on("error", () => undefined);
  socket.on("close", () => {
    queue = queue.then(async () => {
      await freshSession();
      serving = undefined;
      next();
    });
  });
}

function next(): void {
  const socket = waiting.shift();
  if (socket) serve(socket);
  else idleTimer = setTimeout(() => void stop("idle"), idleMs);
}

const server = createServer((socket) => {
  if (stopping) return socket.destroy();
  waiting.push(socket);
  if (!serving) next();
});

/** Stops taking clients, closes the warehouse cleanly, then removes the record: a waiting command opens the warehouse only after. */
async function stop(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`stopping (${why})`);
  server.close();
  if (opening) {
    const database = await opening.catch(() => undefined);
    if (serving) await database?.session.query("ROLLBACK").catch(() => undefined);
    await database?.close().catch((error: Error) => log(`close: ${error.message}`));
  }
  forget();
  process.exit(0);
}

/** Removes this keeper's record and socket, unless another keeper's record has replaced it. */
function forget(): void {
  if (readRecord(dataDir!)?.pid === process.pid) rmSync(recordPath(dataDir!), { force: true });
  rmSync(socketPath!, { force: true });
  // A deep home's socket lives in a private folder of its own under the temporary directory.
  if (dirname(socketPath!) !== warmDir(dataDir!)) rmSync(dirname(socketPath!), { recursive: true, force: true });
}

for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => void stop(signal));

// A home removed or a record no longer naming this process: nothing to keep, and nothing to close cleanly.
setInterval(() => {
  if (!stillKept()) {
    log("home removed or keeper replaced: exiting");
    rmSync(socketPath, { force: true });
    process.exit(0);
  }
}, 1000).unref();

setTimeout(() => {
  if (stillKept()) warehouse().catch(() => undefined);
}, OPEN_AFTER_MS).unref();

rmSync(socketPath, { force: true });
server.listen(socketPath, () => {
  log(`listening on ${socketPath}, idle limit ${idleMs / 1000} s`);
  next();
});
