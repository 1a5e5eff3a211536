// load Lambda: an S3 ObjectCreated event for `<prefix>/manifest.json` on the transformed bucket →
// loadManifest (the same service `coffeetl ingest` runs) into Redshift through the Data API.
// Only event adaptation lives here.
//
// Env: SSM_PARAMETER_NAME (warehouse connection JSON, see functions/aws/ssm.ts), LOG_LEVEL,
// POWERTOOLS_SERVICE_NAME.
//
// Failures: every record is attempted, then one RecordsFailedError is thrown if any failed (Lambda
// retries, then the DLQ). A manifest already in `loads` is acknowledged without loading again.
import { RedshiftDataClient } from "@aws-sdk/client-redshift-data";
import { S3Client } from "@aws-sdk/client-s3";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { Context, S3Event } from "aws-lambda";
import { loadManifest } from "../app/load-manifest.js";
import { MANIFEST_FILE } from "../core/manifest.js";
import { createLogger, logPort, startInvocation } from "../aws/logger.js";
import { RedshiftWarehouse } from "../aws/redshift-warehouse.js";
import { S3Storage } from "../aws/s3-storage.js";
import { forEachCreatedObject } from "../aws/s3-events.js";
import { parameterNameFromEnv, readConnection } from "../aws/ssm.js";

const logger = createLogger("coffeetl-load");
const log = logPort(logger);
let clients: { s3: S3Client; ssm: SSMClient; redshift: RedshiftDataClient } | undefined;
const aws = () => (clients ??= { s3: new S3Client({}), ssm: new SSMClient({}), redshift: new RedshiftDataClient({}) });

/** CREATE TABLE IF NOT EXISTS runs once per container and connection, not once per manifest. */
const schemaReady = new Map<string, Promise<void>>();

export interface LoadSummary {
  loaded: number;
  alreadyLoaded: number;
  skipped: number;
}

export async function handler(event: S3Event, context?: Context): Promise<LoadSummary> {
  startInvocation(logger, context);
  const { results, skipped } = await forEachCreatedObject(event, {
    log,
    skipReason: (key) => (key.endsWith(`/${MANIFEST_FILE}`) ? undefined : `not a ${MANIFEST_FILE} key`),
    handle: async ({ bucket, key }) => (await loadOne(bucket, key, context)).loaded,
  });
  return { loaded: results.filter(Boolean).length, alreadyLoaded: results.filter((loaded) => !loaded).length, skipped };
}

async function loadOne(bucket: string, manifestKey: string, context: Context | undefined) {
  const { s3, ssm, redshift } = aws();
  const parameter = parameterNameFromEnv("SSM_PARAMETER_NAME");
  const connection = await readConnection(ssm, parameter);
  const warehouse = new RedshiftWarehouse(redshift, connection, {
    log,
    ...(context?.getRemainingTimeInMillis ? { remainingTimeMs: () => context.getRemainingTimeInMillis() } : {}),
  });
  const schemaKey = JSON.stringify(connection.target);
  let ready = schemaReady.get(schemaKey);
  if (!ready) {
    ready = warehouse.ensureSchema();
    schemaReady.set(schemaKey, ready);
    ready.catch(() => schemaReady.delete(schemaKey));
  }
  await ready;
  return loadManifest({ transformed: new S3Storage(s3, bucket), warehouse, log }, manifestKey);
}
