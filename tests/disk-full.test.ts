// A full disk during `coffeetl ingest` (issue 19 item 5): the file that does not fit fails with "no
// space left" naming where, its failure reaches file_outcomes, and the other file loads. The home sits
// on a 512 KB tmpfs mounted in a private mount namespace (unshare, as root), so the machine's own
// disks are never filled; the warehouse is a PostgreSQL server.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { dayFile } from "./day-file.js";
import { ROOT, tempDir } from "./helpers.js";

const adminUrl = process.env.COFFEETL_TEST_DATABASE_URL;
const canUnshare = process.getuid?.() === 0 && spawnSync("unshare", ["-m", "--propagation", "private", "true"]).status === 0;

if (!adminUrl || !canUnshare) {
  console.log(`[skip] full disk: ${!adminUrl ? "COFFEETL_TEST_DATABASE_URL is not set (run scripts/start-postgres.sh)" : "needs root and unshare -m"}`);
  test.skip("full disk", () => {});
} else {
  test("a full disk: one line naming the file and 'no space left', a file_outcomes row, the other file loads, exit 1", async () => {
    const dir = await tempDir();
    const name = `coffeetl_disk_${process.pid}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    try {
      const big = join(dir.path, "big.csv");
      const small = join(dir.path, "small.csv");
      writeFileSync(big, dayFile(600, "Leeds").repeat(24)); // over 1 MB: more than the disk holds, and transformed alone
      writeFileSync(small, dayFile(20, "York"));
      const mount = join(dir.path, "disk");
      const script = `mkdir -p "$1" && mount -t tmpfs -o size=512k tmpfs "$1" && exec "$2" "$3" ingest "$4" "$5" --home "$1/home" --database-url "$6"`;
      const r = spawnSync(
        "unshare",
        ["-m", "--propagation", "private", "sh", "-c", script, "sh", mount, process.execPath, join(ROOT, "bin/coffeetl.js"), big, small, url.toString()],
        {
          encoding: "utf8",
          env: { ...process.env, COFFEETL_TRANSACTION_KEY: "disk-full-test-key-0123456789" },
        },
      );
      const out = r.stdout + r.stderr;
      assert.is(r.status, 1, out);
      assert.match(out, /✘ .*big\.csv: failed: no space left on the device for .*big\.csv/);
      assert.match(out, /✔ .*small\.csv: 20 rows read, 20 sales new/);
      assert.not.match(out, /undefined|cannot drop active portal|\n\s+at /);
      const check = new pg.Client({ connectionString: url.toString() });
      await check.connect();
      const { rows } = await check.query("SELECT source_key, reason FROM file_outcomes WHERE outcome = 'failed'");
      await check.end();
      assert.is(rows.length, 1);
      assert.match(rows[0].source_key, /big\.csv$/);
      assert.match(rows[0].reason, /no space left/);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      await dir.remove();
    }
  });
}

test.run();
