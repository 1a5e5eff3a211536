// functions/app/log.ts: the Log port, and silentLog, which the CLI's quiet runs pass: it takes every
// level with fields and writes nothing anywhere.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { silentLog, type Log } from "../functions/app/log.js";

test("silentLog writes nothing on stdout or stderr, at any level", () => {
  const written: string[] = [];
  const [out, err, log, warn, error, info] = [process.stdout.write, process.stderr.write, console.log, console.warn, console.error, console.info];
  const grab = (chunk: unknown) => (written.push(String(chunk)), true);
  process.stdout.write = grab as typeof process.stdout.write;
  process.stderr.write = grab as typeof process.stderr.write;
  console.log = console.warn = console.error = console.info = (...a: unknown[]) => void written.push(a.join(" "));
  try {
    const port: Log = silentLog;
    port.info("loaded", { sales: 1 });
    port.warn("late");
    port.error("failed", { reason: "x" });
  } finally {
    Object.assign(process.stdout, { write: out });
    Object.assign(process.stderr, { write: err });
    Object.assign(console, { log, warn, error, info });
  }
  assert.equal(written, []);
});

test.run();
