// A PostgreSQL server lost in the middle of `coffeetl ingest --database-url` (issue 19 item 5): no
// crash on the client's 'error' event, one line per file not loaded, the summary, exit 1; the
// failures the warehouse could not take are kept in the home and recorded by the next run; and a
// rerun leaves the warehouse equal to a reference load of the same files. The connection runs
// through a loopback proxy that the test cuts, as a server restart or a network drop would.
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { createServer, connect, type Socket } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { dayFile } from "./day-file.js";
import { startCoffeetl, tempDir } from "./helpers.js";

const adminUrl = process.env.COFFEETL_TEST_DATABASE_URL;
const KEY = "lost-server-test-key-0123456789";
const FILES = 8;

async function ingest(home: string, databaseUrl: string, paths: string[], onLine?: (line: string) => void) {
  const { child, done } = startCoffeetl(["ingest", ...paths, "--home", home, "--database-url", databaseUrl], {
    env: { ...process.env, COFFEETL_TRANSACTION_KEY: KEY, COFFEETL_LOAD_BATCH: "1" },
  });
  const take = (d: Buffer) => {
    for (const line of String(d).split("\n")) if (line) onLine?.(line);
  };
  child.stdout.on("data", take);
  child.stderr.on("data", take);
  const { status, combined: out } = await done;
  return { status, out };
}

async function database() {
  const name = `coffeetl_lost_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl!);
  url.pathname = `/${name}`;
  return {
    url,
    async figures() {
      const c = new pg.Client({ connectionString: url.toString() });
      await c.connect();
      try {
        return (
          await c.query(`SELECT (SELECT COUNT(*)::int FROM transactions) AS sales, (SELECT SUM(total_amount)::text FROM transactions) AS revenue,
            (SELECT COUNT(*)::int FROM transaction_items) AS items, (SELECT COUNT(*)::int FROM loads WHERE superseded_by IS NULL) AS loads,
            (SELECT string_agg(source_key || ':' || outcome, ',' ORDER BY source_key, outcome) FROM (SELECT DISTINCT source_key, outcome FROM file_outcomes) o) AS outcomes`)
        ).rows[0] as Record<string, unknown>;
      } finally {
        await c.end();
      }
    },
    async drop() {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** A loopback proxy to the server; `cut()` drops every connection and refuses new ones. */
async function proxyTo(target: URL) {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

if (!adminUrl) {
  console.log("[skip] server lost mid-ingest: COFFEETL_TEST_DATABASE_URL is not set (run scripts/start-postgres.sh)");
  test.skip("server lost mid-ingest", () => {});
} else {
  test("a server lost mid-ingest: a line per file not loaded, a summary, exit 1; the rerun equals the reference", async () => {
    const dir = await tempDir();
    const files = Array.from({ length: FILES }, (_, i) => {
      const path = join(dir.path, `day-${i}.csv`);
      writeFileSync(path, dayFile(60 + i, `Branch ${i}`));
      return path;
    });
    const reference = await database();
    const db = await database();
    try {
      const ref = await ingest(join(dir.path, "home-ref"), reference.url.toString(), files);
      assert.is(ref.status, 0, ref.out);

      const proxy = await proxyTo(db.url);
      const viaProxy = new URL(db.url.toString());
      viaProxy.host = `127.0.0.1:${proxy.port}`;
      const home = join(dir.path, "home");
      let loaded = 0;
      const broken = await ingest(home, viaProxy.toString(), files, (line) => {
        if (line.startsWith("✔") && ++loaded === 2) proxy.cut();
      });
      assert.is(broken.status, 1, broken.out);
      assert.not.match(broken.out, /Unhandled 'error' event|\n\s+at /, "no crash, no stack trace");
      const failedLines = broken.out.split("\n").filter((l) => l.startsWith("✘"));
      assert.ok(failedLines.length >= 1, broken.out);
      assert.is(failedLines.length + loaded, FILES, `one line for every file: ${broken.out}`);
      for (const l of failedLines) assert.match(l, /day-\d\.csv: failed: .*(lost the connection|Connection terminated|ECONNREFUSED|connection)/i);
      assert.match(broken.out, new RegExp(`${FILES} files: ${loaded} processed, ${failedLines.length} failed`));
      assert.ok(existsSync(join(home, "unrecorded-outcomes.jsonl")), "the failures the warehouse could not take are kept");

      const rerun = await ingest(home, db.url.toString(), files);
      assert.is(rerun.status, 0, rerun.out);
      assert.not.ok(existsSync(join(home, "unrecorded-outcomes.jsonl")), "replayed by the next run");
      const [got, want] = [await db.figures(), await reference.figures()];
      assert.equal({ ...got, outcomes: undefined }, { ...want, outcomes: undefined });
      assert.match(String(got.outcomes), /day-\d\.csv:failed/, "the kept failures were recorded");
    } finally {
      await reference.drop();
      await db.drop();
      await dir.remove();
    }
  });
}

test.run();
