// The warm warehouse's keeper: a process that holds one home's embedded warehouse open between
// commands, so a command talks to a started PostgreSQL instead of starting PGlite itself (~0.45 s).
// Started by a command holding the home's lock (warm-warehouse.ts), it is the data directory's only
// opener while it lives. Usage: node warm-keeper.js DATA_DIR IDLE_SECONDS
import { existsSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { openPglite } from "./postgres-warehouse.js";
import { errorReply, frame, frameReader, readRecord, recordPath, warmDir, type WarmReply, type WarmRequest } from "./warm-protocol.js";

const [dataDir, idleArg, socketPath] = process.argv.slice(2);
if (!dataDir || !socketPath) throw new Error("usage: warm-keeper DATA_DIR IDLE_SECONDS SOCKET");
const idleMs = Math.max(1, Number(idleArg) || 300) * 1000;
// What isKeeper (warm-protocol.ts) looks for in the command line, which the title replaces.
process.title = `coffeetl warm-keeper ${dataDir}`;
const log = (message: string) => process.stdout.write(`${new Date().toISOString()} [${process.pid}] ${message}\n`);

// Array types on: `sql` may return arrays; the other commands' statements return none either way.
const database = await openPglite(dataDir, "light", true, true);
log("warehouse open");

/** Clients are served one at a time, in arrival order (the home's lock already lets one command in at a time). */
const waiting: Socket[] = [];
let serving: Socket | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let stopping = false;

async function answer(request: WarmRequest): Promise<unknown> {
  const { session } = database;
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

/**
 * What a command left behind goes with it, as when its own process ended: an open transaction
 * (a command killed mid-load) is rolled back, and settings, role, temporary tables and prepared
 * plans are discarded, so each command starts on a session as fresh as a new connection's.
 */
async function freshSession(): Promise<void> {
  await database.session.query("ROLLBACK").catch(() => undefined);
  await database.session.query("DISCARD ALL").catch((error: Error) => log(`discard: ${error.message}`));
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

/** Stops taking clients, closes the warehouse cleanly, then removes the record: a waiting command starts its own keeper only after. */
async function stop(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`stopping (${why})`);
  server.close();
  if (serving) await database.session.query("ROLLBACK").catch(() => undefined);
  await database.close().catch((error: Error) => log(`close: ${error.message}`));
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

// A home removed (a test's temporary folder, `rm -r`) or a record no longer naming this process: nothing to keep.
setInterval(() => {
  if (!existsSync(dataDir) || readRecord(dataDir)?.pid !== process.pid) {
    log("home removed or keeper replaced: exiting");
    rmSync(socketPath, { force: true });
    process.exit(0);
  }
}, 1000).unref();

rmSync(socketPath, { force: true });
server.listen(socketPath, () => {
  log(`serving on ${socketPath}, idle limit ${idleMs / 1000} s`);
  next();
});
