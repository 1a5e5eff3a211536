// The upload-check Lambda against the in-memory S3: which uploaders sent nothing since local
// midnight, as an EMF metric the alarm watches and a log line naming them.
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { Context } from "aws-lambda";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { captureOutput } from "./fixtures/aws/capture.js";
import { FakeS3, lambdaContext } from "./fixtures/aws/fake-s3.js";

const RAW = "coffeetl-raw-check";
process.env.AWS_REGION = "eu-west-2";
process.env.RAW_BUCKET = RAW;
process.env.UPLOADERS = "leeds,york,hull";
process.env.UPLOAD_TIME_ZONE = "Europe/London";
process.env.POWERTOOLS_SERVICE_NAME = "coffeetl-acme-prod-upload-check";

const s3 = new FakeS3();
const capture = captureOutput();
const { handler, startOfLocalDay } = await import("../functions/upload-check/handler.js");
const context = lambdaContext() as unknown as Context;

test("local midnight in the configured zone, summer and winter", () => {
  // 1 July 2024 is BST (UTC+1): local midnight is 23:00 UTC the day before.
  assert.equal(startOfLocalDay(new Date("2024-07-01T09:00:00Z"), "Europe/London"), { start: new Date("2024-06-30T23:00:00Z"), date: "2024-07-01" });
  assert.equal(startOfLocalDay(new Date("2024-12-02T09:00:00Z"), "Europe/London"), { start: new Date("2024-12-02T00:00:00Z"), date: "2024-12-02" });
  // 23:30 UTC on 30 June is already 1 July in London.
  assert.is(startOfLocalDay(new Date("2024-06-30T23:30:00Z"), "Europe/London").date, "2024-07-01");
  assert.equal(startOfLocalDay(new Date("2024-07-01T09:00:00Z"), "Asia/Kolkata").start, new Date("2024-06-30T18:30:00Z"));
});

test("a branch whose only file is from yesterday, and one with none at all, are missing; the metric counts them", async () => {
  s3.now = () => new Date("2024-06-30T22:30:00Z"); // 23:30 BST on 30 June: yesterday
  s3.putText(RAW, "uploads/york/2024-06-30.csv", "x");
  s3.now = () => new Date("2024-07-01T07:45:00Z"); // 08:45 BST today
  s3.putText(RAW, "uploads/leeds/2024-07-01.csv", "x");
  s3.putText(RAW, "uploads/leeds-north/2024-07-01.csv", "x"); // another prefix: not york's, not leeds's
  s3.putText(RAW, "elsewhere/hull.csv", "x");
  const result = await handler({}, context, new Date("2024-07-01T09:00:00Z"));
  assert.equal(result, { date: "2024-07-01", checked: 3, missing: ["york", "hull"] });
  const prefixes = s3.mock.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input.Prefix);
  assert.equal([...new Set(prefixes)], ["uploads/leeds/", "uploads/york/", "uploads/hull/"], "each uploader's own prefix, with the trailing slash");
  const emf = capture.lines().find((l) => l._aws !== undefined)!;
  assert.ok(emf, "an Embedded Metric Format line");
  const directive = (emf._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] })
    .CloudWatchMetrics[0]!;
  assert.equal(
    [directive.Namespace, directive.Metrics[0]!.Name, directive.Metrics[0]!.Unit, directive.Dimensions],
    ["CoffeETL", "BranchesWithoutUpload", "Count", [["service"]]],
  );
  assert.equal([emf.BranchesWithoutUpload, emf.service], [2, "coffeetl-acme-prod-upload-check"], "the alarm's metric and dimension");
  const warn = capture.lines().find((l) => l.message === "no upload today")!;
  assert.equal([warn.missing, warn.date], [["york", "hull"], "2024-07-01"]);
});

test("everyone uploaded: the metric is 0 (the alarm stays OK)", async () => {
  s3.putText(RAW, "uploads/york/2024-07-01.csv", "x");
  s3.putText(RAW, "uploads/hull/2024-07-01.CSV", "x");
  const result = await handler({}, context, new Date("2024-07-01T09:00:00Z"));
  assert.equal(result.missing, []);
  const emf = capture
    .lines()
    .filter((l) => l._aws !== undefined)
    .at(-1)!;
  assert.is(emf.BranchesWithoutUpload, 0);
});

test.after(() => capture.stop());
test.run();
