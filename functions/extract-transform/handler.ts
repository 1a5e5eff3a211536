// extract-transform Lambda: an S3 ObjectCreated event on the raw bucket → transformObject (the same
// service `coffeetl ingest` runs) from S3 to S3. Only event adaptation lives here.
//
// Env: TRANSFORMED_BUCKET (destination), TRANSACTION_ID_KEY_PARAMETER (SSM SecureString holding the
// transaction-id HMAC key), optional TRANSFORMED_KMS_KEY_ID (SSE-KMS instead of SSE-S3), LOG_LEVEL,
// POWERTOOLS_SERVICE_NAME.
//
// Failures: every record of the event is attempted; if any failed, one RecordsFailedError is thrown at
// the end, so Lambda's async retries run and the event then lands in the on-failure destination (DLQ).
// An unreadable file is rethrown too: transformObject has already written `failed.json` beside where
// the manifest would be, and the DLQ message makes the failure visible and replayable. A refused raw
// key (transformObject's `refused`) is final and not thrown: its failed.json is all a retry could
// write. Records that succeeded are cheap on retry: the manifest exists, so they are skipped.
import { S3Client } from "@aws-sdk/client-s3";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { Context, S3Event } from "aws-lambda";
import { transformObject } from "../app/transform-object.js";
import { allowedBranches } from "../core/branches.js";
import { UnreadableFileError } from "../core/errors.js";
import { s3Order } from "../core/version-order.js";
import { createLogger, logPort, startInvocation } from "../aws/logger.js";
import { S3Storage } from "../aws/s3-storage.js";
import { forEachCreatedObject } from "../aws/s3-events.js";
import { parameterNameFromEnv, readTransactionIdKey } from "../aws/ssm.js";

const logger = createLogger("coffeetl-extract-transform");
const log = logPort(logger);
let clients: { s3: S3Client; ssm: SSMClient } | undefined;
// SSM retries live in functions/aws/ssm.ts (backoff with jitter); one SDK attempt per call there.
const aws = () => (clients ??= { s3: new S3Client({}), ssm: new SSMClient({ maxAttempts: 1 }) });

interface ExtractTransformSummary {
  transformed: number;
  alreadyTransformed: number;
  skipped: number;
  /** Raw keys that can never be transformed (too long, a control character): recorded as failures, never retried. */
  refused: number;
}

/**
 * Per-uploader branch lists (UPLOADER_BRANCHES, from coffeetl:uploaderBranches; the stack always
 * sets it, `{}` without lists). Unset: uploads are not checked.
 */
function uploaderBranches(): Record<string, string[]> | undefined {
  const text = process.env.UPLOADER_BRANCHES;
  if (text === undefined) return undefined;
  const value = JSON.parse(text) as unknown;
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("environment variable UPLOADER_BRANCHES is not a JSON object");
  return value as Record<string, string[]>;
}

export async function handler(event: S3Event, context?: Context): Promise<ExtractTransformSummary> {
  startInvocation(logger, context);
  const { results, skipped } = await forEachCreatedObject(event, {
    log,
    skipReason: (key) => (/\.csv$/i.test(key) ? undefined : "not a .csv key"),
    handle: async ({ bucket, key, versionId, sequencer }) => {
      const overrides = uploaderBranches();
      const branches = overrides && allowedBranches(key, overrides);
      // Read exactly the version the event is about (a later upload of the key has its own event).
      // Its sequencer goes into the manifest, so the load knows which version of the key is newer.
      const options = { ...(versionId ? { versionId } : {}), ...(sequencer ? { order: s3Order(sequencer) } : {}), ...(branches ? { branches } : {}) };
      return (await transformObject(await deps(bucket), key, options)).status;
    },
    // transformObject logs an unreadable file itself.
    alreadyLogged: (error) => error instanceof UnreadableFileError,
  });
  return {
    transformed: results.filter((status) => status === "transformed").length,
    alreadyTransformed: results.filter((status) => status === "skipped").length,
    skipped,
    refused: results.filter((status) => status === "refused").length,
  };
}

async function deps(rawBucket: string) {
  const transformedBucket = process.env.TRANSFORMED_BUCKET;
  if (!transformedBucket) throw new Error("environment variable TRANSFORMED_BUCKET is not set");
  const kmsKeyId = process.env.TRANSFORMED_KMS_KEY_ID;
  const { s3, ssm } = aws();
  return {
    raw: new S3Storage(s3, rawBucket),
    transformed: new S3Storage(s3, transformedBucket, kmsKeyId ? { serverSideEncryption: "aws:kms", kmsKeyId } : {}),
    transactionIdKey: await readTransactionIdKey(ssm, parameterNameFromEnv("TRANSACTION_ID_KEY_PARAMETER")),
    log,
  };
}
