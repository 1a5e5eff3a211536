// `coffeetl redrive` as the README writes it, against moto's SQS (which has no message-move tasks:
// that step fails, on its own) and its Docker-less Lambda (Invoke accepted, seen through a loopback
// proxy). IAM enforcement is off here: with it on, moto miscomputes the signature of a request whose
// query holds "/" (ListObjectsV2 with a prefix), and an operator's login may do all of this anyway.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { s3CreatedRecord } from "../cli/redrive.js";
import { ACCOUNT, BASE_CONFIG, REGION, createMotoStack, motoMissing, startMoto } from "./fixtures/aws/moto.js";
import { startProxy } from "./fixtures/aws/proxy.js";
import { runCoffeetl, tempDir } from "./helpers.js";

const missing = motoMissing();
if (missing) {
  console.log(`[skip] moto suites: ${missing}`);
  test.skip("redrive against moto", () => {});
  test.run();
} else {
  await suite();
}

async function suite() {
  const moto = await startMoto();
  const stack = await createMotoStack(BASE_CONFIG);
  const proxy = await startProxy(moto.port);
  const dir = await tempDir();
  const s3 = new S3Client({});
  const sqs = new SQSClient({});

  /** The CLI as the README runs it, its AWS calls through the proxy. */
  const coffeetl = (args: string[]) => runCoffeetl(args, { cwd: dir.path, env: { ...process.env, AWS_ENDPOINT_URL: proxy.endpoint, NO_COLOR: "1" } });

  const functionArn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${stack.layout.extractTransformFunctionName}`;
  const failureRecord = (key: string) =>
    JSON.stringify({
      version: "1.0",
      requestContext: { requestId: "x", functionArn: `${functionArn}:$LATEST`, condition: "RetriesExhausted", approximateInvokeCount: 3 },
      requestPayload: { Records: [s3CreatedRecord(stack.rawBucket, key, REGION)] },
      responseContext: { statusCode: 200, functionError: "Unhandled" },
    });
  const visible = async (url: string) =>
    Number(
      (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages"] }))).Attributes!
        .ApproximateNumberOfMessages,
    );

  test("redrive: each step on its own (moto has no move tasks: that step fails, named), an honest dry run, non-records left visible", async () => {
    for (const body of [failureRecord("uploads/leeds/a.csv"), "a note someone sent by hand", failureRecord("uploads/leeds/b c.csv")]) {
      await sqs.send(new SendMessageCommand({ QueueUrl: stack.deadLetterQueueUrl, MessageBody: body }));
    }
    await sqs.send(new SendMessageCommand({ QueueUrl: stack.loadDeadLetterQueueUrl, MessageBody: "{}" }));
    for (const Key of ["uploads/leeds/d.csv", "uploads/leeds/e.CSV", "uploads/leeds/notes.txt"])
      await s3.send(new PutObjectCommand({ Bucket: stack.rawBucket, Key, Body: "x" }));
    const outputs = join(dir.path, "outputs.json");
    writeFileSync(outputs, JSON.stringify(stack.outputs));

    const dry = await coffeetl(["redrive", "--outputs", outputs, "--dry-run", "--prefix", "uploads/leeds/"]);
    assert.is(dry.status, 1, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /✘ moving the load dead-letter queue back to the load queue failed: SQS ListMessageMoveTasks: /);
    assert.match(dry.stdout, /Extract-transform dead-letter queue: 2 failed event\(s\) would be re-invoked\./, "only failure records counted");
    assert.match(dry.stdout, /1 message\(s\) are not Lambda failure records/);
    assert.match(dry.stdout, /Raw objects under "uploads\/leeds\/": 2 \.csv object\(s\) would be sent to/, "the prefix step still ran");
    assert.is(await visible(stack.deadLetterQueueUrl), 3, "a dry run leaves every message visible");
    const invokes = () => proxy.requests.filter((q) => q.method === "POST" && /\/functions\/.*\/invocations/.test(q.url));
    assert.is(invokes().length, 0);

    const run = await coffeetl(["redrive", "--outputs", outputs, "--prefix", "uploads/leeds/"]);
    assert.is(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /✘ moving the load dead-letter queue back .* failed: SQS ListMessageMoveTasks/);
    assert.match(run.stdout, /Extract-transform dead-letter queue: 2 failed event\(s\) re-invoked and removed\./);
    assert.match(run.stdout, /Raw objects under "uploads\/leeds\/": 2 \.csv object\(s\) sent to coffeetl-moto-extract-transform/);
    const payloads = invokes().map((q) => JSON.parse(q.body) as { Records: { s3: { object: { key: string } } }[] });
    assert.equal(payloads.map((p) => p.Records[0]!.s3.object.key).sort(), [
      "uploads/leeds/a.csv",
      "uploads/leeds/b+c.csv",
      "uploads/leeds/d.csv",
      "uploads/leeds/e.CSV",
    ]);
    assert.is(await visible(stack.deadLetterQueueUrl), 1, "the non-record is visible again at once, not in 5 minutes");

    const again = await coffeetl(["redrive", "--outputs", outputs]);
    assert.match(again.stdout, /Extract-transform dead-letter queue: 0 failed event\(s\)/);
    assert.match(again.stdout, /1 message\(s\) are not Lambda failure records/, "a second run still sees it");
    assert.is(again.status, 1);
  });

  test.after(async () => {
    await proxy.close();
    await moto.stop();
    await dir.remove();
  });
  test.run();
}
