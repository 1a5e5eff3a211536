// Peak memory of the extract-transform Lambda handler on a large file, with S3 and SSM stubbed:
//   node --import tsx bench/handler-memory.ts [sales=1000000] [--lambda-memory=MB] [--in-process] [--invocations=N]
// GetObject streams a generated canonical file (never held whole; BENCH_FILE=path streams a file
// instead); uploads are consumed, counted and discarded. Prints one JSON line: sales, seconds, sales/s,
// MB out per file, peak RSS (process.resourceUsage().maxRSS; target < 256 MB).
//
// By default the handler is measured as Lambda runs it: bundled by esbuild into one ESM file (SDK
// included) and run by plain `node` in a child process (no tsx, whose loader alone costs ~30 MB),
// with the V8 heap flags the Lambda Node.js runtime's bootstrap derives from the function's memory:
// new space = memory/10, --max-semi-space-size = new space/2, --max-old-space-size = memory - new space.
// --lambda-memory=256 is the default; --lambda-memory=0 keeps V8's defaults for this machine (which
// size the young generation from the host's RAM, so garbage lingers longer and RSS is higher).
// `--in-process` measures right here under tsx instead.
import { spawnSync } from "node:child_process";
import { createReadStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NotFound,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { Context, S3Event } from "aws-lambda";
import { generateSample } from "../functions/core/sample.js";

const CHILD = process.env.COFFEETL_BENCH_CHILD === "1";
const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const lambdaMemory = Number(/^--lambda-memory=(\d+)$/.exec(process.argv.find((a) => a.startsWith("--lambda-memory=")) ?? "")?.[1] ?? 256);
function lambdaNodeFlags(memoryMb: number): string[] {
  if (!memoryMb) return [];
  const newSpace = Math.floor(memoryMb / 10);
  return [`--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memoryMb - newSpace}`];
}
const sales = Number(args[0] ?? 1_000_000);
if (!Number.isSafeInteger(sales) || sales < 1) throw new Error("usage: handler-memory.ts [sales] [--in-process]");
const sample = { rows: sales, seed: "handler-memory", branch: "Leeds", date: "2024-05-01" };

/** The raw object's size, counted by streaming (the handler reports it in the manifest). */
async function sizeOfSample(): Promise<number> {
  let size = 0;
  for await (const chunk of generateSample(sample)) size += (chunk as Buffer).length;
  return size;
}

async function measure(rawSize: number, mode: string, nodeFlags: string[]): Promise<void> {
  process.env.AWS_REGION ??= "eu-west-1";
  process.env.TRANSFORMED_BUCKET = "bench-transformed";
  process.env.TRANSACTION_ID_KEY_PARAMETER = "/bench/transaction-secret";
  process.env.POWERTOOLS_SERVICE_NAME = "coffeetl-bench";
  process.env.LOG_LEVEL = "WARN";

  const bytesOut = new Map<string, number>();
  const count = async (key: string, body: unknown) => {
    let n = 0;
    if (typeof body === "string") n = Buffer.byteLength(body);
    else if (body instanceof Uint8Array) n = body.byteLength;
    else for await (const chunk of body as AsyncIterable<Buffer>) n += chunk.length;
    bytesOut.set(key, (bytesOut.get(key) ?? 0) + n);
  };
  const file = (key: string) => key.slice(key.lastIndexOf("/") + 1);

  // Stubbed at `send`, not with aws-sdk-client-mock: its sinon stubs keep every call's input, which
  // here would be every uploaded part, and the figure would measure the mock.
  let reads = 0;
  const uploads = new Map<string, string>();
  S3Client.prototype.send = (async (command: { input: Record<string, any> }) => {
    const input = command.input;
    if (command instanceof GetObjectCommand) {
      reads++;
      const body = process.env.BENCH_FILE ? createReadStream(process.env.BENCH_FILE, { highWaterMark: 64 * 1024 }) : (generateSample(sample) as Readable);
      return { Body: body, ContentLength: rawSize, VersionId: "bench-v1" };
    }
    if (command instanceof HeadObjectCommand) throw new NotFound({ message: "NotFound", $metadata: { httpStatusCode: 404 } });
    if (command instanceof PutObjectCommand) {
      await count(file(input.Key), input.Body);
      return { ETag: '"x"' };
    }
    if (command instanceof CreateMultipartUploadCommand) {
      const UploadId = `u${uploads.size + 1}`;
      uploads.set(UploadId, file(input.Key));
      return { UploadId };
    }
    if (command instanceof UploadPartCommand) {
      await count(uploads.get(input.UploadId)!, input.Body);
      return { ETag: `"${input.PartNumber}"` };
    }
    if (command instanceof CompleteMultipartUploadCommand || command instanceof AbortMultipartUploadCommand) return {};
    throw new Error(`bench: unexpected S3 command ${command.constructor.name}`);
  }) as unknown as S3Client["send"];
  SSMClient.prototype.send = (async () => ({ Parameter: { Value: "bench-hmac-key-0123456789abcdef" } })) as unknown as SSMClient["send"];

  const { handler } = await import("../functions/extract-transform/handler.js");
  const event = {
    Records: [{ eventName: "ObjectCreated:Put", s3: { bucket: { name: "bench-raw" }, object: { key: "bench/leeds+2024-05-01.csv", size: rawSize } } }],
  } as unknown as S3Event;
  const context = { awsRequestId: "bench", functionName: "bench", getRemainingTimeInMillis: () => 900_000 } as unknown as Context;

  const rssBefore = process.memoryUsage().rss;
  // Further invocations (a warm container; `--invocations=N`) transform the same object again.
  const invocations = Number(/^--invocations=(\d+)$/.exec(process.argv.find((a) => a.startsWith("--invocations=")) ?? "")?.[1] ?? 1);
  const cpuMs: number[] = [];
  let summary: unknown;
  let seconds = 0;
  for (let i = 0; i < invocations; i++) {
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    summary = await handler(event, context);
    if (i === 0) seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    cpuMs.push(Math.round((cpu.user + cpu.system) / 1000));
  }
  const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
  console.log(
    JSON.stringify({
      mode,
      node: process.version,
      nodeFlags,
      source: process.env.BENCH_FILE ? "file" : "generateSample",
      sales,
      rawMb: mb(rawSize),
      seconds: Math.round(seconds * 100) / 100,
      // Each invocation's CPU (user + system): the first is the container's first (modules loaded, code cold).
      cpuMs,
      salesPerSecond: Math.round(sales / seconds),
      summary,
      getObjectCalls: reads,
      outMb: Object.fromEntries([...bytesOut].map(([k, v]) => [k, mb(v)])),
      rssBeforeHandlerMb: mb(rssBefore),
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      targetMb: 256,
    }),
  );
}

if (CHILD) {
  await measure(Number(process.env.COFFEETL_BENCH_RAW_SIZE), "bundled (esbuild, plain node)", process.execArgv);
} else if (process.argv.includes("--in-process")) {
  await measure(process.env.BENCH_FILE ? statSync(process.env.BENCH_FILE).size : await sizeOfSample(), "in-process (tsx)", process.execArgv);
} else {
  const rawSize = process.env.BENCH_FILE ? statSync(process.env.BENCH_FILE).size : await sizeOfSample();
  const { build } = await import("esbuild");
  const dir = mkdtempSync(join(tmpdir(), "coffeetl-bench-"));
  try {
    const outfile = join(dir, "handler-memory.mjs");
    await build({
      entryPoints: [fileURLToPath(import.meta.url)],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      outfile,
      logLevel: "warning",
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    const child = spawnSync(
      process.execPath,
      [...lambdaNodeFlags(lambdaMemory), outfile, String(sales), ...process.argv.filter((a) => a.startsWith("--invocations="))],
      {
        env: { ...process.env, COFFEETL_BENCH_CHILD: "1", COFFEETL_BENCH_RAW_SIZE: String(rawSize), NODE_NO_WARNINGS: "1" },
        stdio: ["ignore", "inherit", "inherit"],
      },
    );
    process.exitCode = child.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
