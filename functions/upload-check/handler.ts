// upload-check Lambda: run by a schedule at the configured deadline (coffeetl:uploadDeadline, in
// coffeetl:uploadDeadlineTimeZone), it lists each uploader's prefix of the raw bucket and counts the
// uploaders with no object written since local midnight. The count goes out as a CloudWatch metric
// (CoffeETL/BranchesWithoutUpload, Embedded Metric Format: a log line, no API call), which an alarm
// watches; the names go in a log line (branch names only, never file content).
//
// Env: RAW_BUCKET, UPLOADERS (comma-separated), UPLOAD_TIME_ZONE, LOG_LEVEL, POWERTOOLS_SERVICE_NAME.
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { createLogger, logPort, startInvocation } from "../aws/logger.js";
import { zoneOffsetMs } from "../core/zone-time.js";

export const METRIC_NAMESPACE = "CoffeETL";
export const METRIC_NAME = "BranchesWithoutUpload";
export const UPLOAD_ROOT = "uploads/";

const logger = createLogger("coffeetl-upload-check");
const log = logPort(logger);
let s3: S3Client | undefined;

export interface UploadCheckResult {
  /** Local date checked (YYYY-MM-DD in the time zone). */
  date: string;
  checked: number;
  missing: string[];
}

/** The instant of local midnight of `now`'s date in `timeZone`, and that date. */
export function startOfLocalDay(now: Date, timeZone: string): { start: Date; date: string } {
  const offset = zoneOffsetMs(now.getTime(), timeZone); // local minus UTC
  const wall = new Date(now.getTime() + offset);
  const date = wall.toISOString().slice(0, 10);
  return { start: new Date(Date.UTC(wall.getUTCFullYear(), wall.getUTCMonth(), wall.getUTCDate()) - offset), date };
}

async function uploadedSince(client: S3Client, bucket: string, prefix: string, since: Date): Promise<boolean> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    if (page.Contents?.some((o) => o.LastModified && o.LastModified >= since)) return true;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return false;
}

export async function handler(_event: unknown, context?: Context, now: Date = new Date()): Promise<UploadCheckResult> {
  startInvocation(logger, context);
  const bucket = process.env.RAW_BUCKET;
  if (!bucket) throw new Error("environment variable RAW_BUCKET is not set");
  const uploaders = (process.env.UPLOADERS ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  const timeZone = process.env.UPLOAD_TIME_ZONE || "Europe/London";
  const { start, date } = startOfLocalDay(now, timeZone);
  const client = (s3 ??= new S3Client({}));

  const missing: string[] = [];
  for (const name of uploaders) if (!(await uploadedSince(client, bucket, `${UPLOAD_ROOT}${name}/`, start))) missing.push(name);

  const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: process.env.POWERTOOLS_SERVICE_NAME || "coffeetl-upload-check" });
  metrics.addMetric(METRIC_NAME, MetricUnit.Count, missing.length);
  metrics.publishStoredMetrics();
  if (missing.length) log.warn("no upload today", { date, timeZone, missing, checked: uploaders.length });
  else log.info("every uploader sent a file today", { date, timeZone, checked: uploaders.length });
  return { date, checked: uploaders.length, missing };
}
