// functions/aws/logger.ts alone: the Log port over Powertools writes one JSON line per call at its
// level with the caller's fields; each invocation starts without the last one's keys; errors become
// name and message only (never a stack or the object's other fields).
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Context } from "aws-lambda";
import { createLogger, errorFields, logPort, startInvocation } from "../functions/aws/logger.js";

/** The JSON lines Powertools writes while `run` runs (it writes through its own Console on stdout/stderr). */
function captured(run: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const [out, err] = [process.stdout.write, process.stderr.write];
  const grab = (chunk: unknown) => (lines.push(String(chunk)), true);
  process.stdout.write = grab as typeof process.stdout.write;
  process.stderr.write = grab as typeof process.stderr.write;
  try {
    run();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return lines
    .join("")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const context = {
  awsRequestId: "req-1",
  functionName: "coffeetl-acme-prod-load",
  functionVersion: "$LATEST",
  memoryLimitInMB: "512",
  invokedFunctionArn: "arn:aws:lambda:eu-west-2:1:function:f",
} as unknown as Context;

test("the service name comes from POWERTOOLS_SERVICE_NAME, else the default given", () => {
  const before = process.env.POWERTOOLS_SERVICE_NAME;
  try {
    delete process.env.POWERTOOLS_SERVICE_NAME;
    const [a] = captured(() => logPort(createLogger("coffeetl-load")).info("hello"));
    assert.is(a!.service, "coffeetl-load");
    process.env.POWERTOOLS_SERVICE_NAME = "from-env";
    const [b] = captured(() => logPort(createLogger("coffeetl-load")).info("hello"));
    assert.is(b!.service, "from-env");
  } finally {
    if (before === undefined) delete process.env.POWERTOOLS_SERVICE_NAME;
    else process.env.POWERTOOLS_SERVICE_NAME = before;
  }
});

test("info, warn and error each write their level, message and the caller's fields", () => {
  const log = logPort(createLogger("coffeetl-test"));
  const lines = captured(() => {
    log.info("loaded", { key: "uploads/leeds/a.csv", sales: 3 });
    log.warn("late");
    log.error("failed", { reason: "timeout" });
  });
  assert.equal(
    lines.map((l) => [l.level, l.message]),
    [
      ["INFO", "loaded"],
      ["WARN", "late"],
      ["ERROR", "failed"],
    ],
  );
  assert.equal([lines[0]!.key, lines[0]!.sales, lines[2]!.reason], ["uploads/leeds/a.csv", 3, "timeout"]);
});

test("startInvocation adds the request id and drops the last invocation's keys", () => {
  const logger = createLogger("coffeetl-test");
  const [first, second] = captured(() => {
    startInvocation(logger, context);
    logger.appendKeys({ manifest: "a/manifest.json" });
    logger.info("one");
    startInvocation(logger, { ...context, awsRequestId: "req-2" } as Context);
    logger.info("two");
  });
  assert.is(first!.function_request_id, "req-1");
  assert.is(first!.manifest, "a/manifest.json");
  assert.is(second!.function_request_id, "req-2");
  assert.is(second!.manifest, undefined);
  const [bare] = captured(() => {
    startInvocation(logger, undefined);
    logger.info("three");
  });
  assert.is(bare!.manifest, undefined);
});

test("errorFields: name and message only, for errors and for anything thrown", () => {
  const e = Object.assign(new TypeError("bad key"), { row: "Leeds,Jane Doe,4111111111111111" });
  assert.equal(errorFields(e), { errorName: "TypeError", errorMessage: "bad key" });
  assert.equal(errorFields("plain"), { errorName: "Error", errorMessage: "plain" });
});

test.run();
