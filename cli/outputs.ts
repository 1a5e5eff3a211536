// The deployed stack as the CLI reaches it: `pulumi stack output --json > outputs.json` (names in
// index.ts) parsed into a typed target, and the clients of the daily check on AWS (`status`,
// `rejects`, `reprocess`, `forget` with `--outputs FILE`): the warehouse through the Redshift Data API, the
// buckets through S3, the extract-transform function through Lambda. The caller's own AWS login is
// used; nothing here holds or prints a secret.
//
// Warehouse identity: the connection is the stack's SSM parameter (`warehouseParameterName`), read as
// the load reads it. Reads go as the read-only reader, never as the loader where the two differ: on a
// provisioned cluster with a `dbUser`, the reader's database user (`readerDbUser`, default
// coffeetl_grafana); on Serverless the caller's IAM identity, which needs the reader role
// (`RedshiftDbRoles` tag, docs/deploy.md); with a `secretArn`, the secret's user.
import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import type { RedshiftDataClient } from "@aws-sdk/client-redshift-data";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SSMClient } from "@aws-sdk/client-ssm";
import type { Storage, Warehouse } from "../functions/app/ports.js";
import type { WarehouseSettings } from "../functions/aws/ssm.js";
import { DEFAULT_READER_DB_USER } from "../functions/warehouse/reader-role.js";
import { UsageError } from "./errors.js";

/** What the daily check needs of `pulumi stack output --json`. */
interface DeployedStack {
  /** Where the outputs came from, for messages. */
  source: string;
  region: string;
  rawBucketName: string;
  transformedBucketName: string;
  /** The SSM parameter holding the warehouse settings JSON (functions/aws/ssm.ts `WarehouseSettings`). */
  warehouseParameterName: string;
  extractTransformFunctionName: string;
  /** The SSM SecureString holding the transaction-id key (`forget` writes a withdrawal keyed with it); stacks of older releases lack it. */
  transactionIdKeyParameter?: string;
}

const REQUIRED = ["rawBucketName", "transformedBucketName", "warehouseParameterName", "extractTransformFunctionName"] as const;

/** The region in a queue URL (`https://sqs.<region>.amazonaws.com/…`) or an ARN (`arn:aws:<service>:<region>:…`). */
export function regionOf(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  return /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com/.exec(value)?.[1] ?? /^arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-[a-z]+)+-\d):/.exec(value)?.[1];
}

/** The JSON object `pulumi stack output --json` prints; errors name the source. */
export function outputsObject(json: string, source: string): Record<string, unknown> {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new Error(`${source}: not JSON; expected the output of \`pulumi stack output --json\``);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error(`${source}: expected a JSON object (\`pulumi stack output --json\`)`);
  return value;
}

/** Throws, naming every one, when any of `keys` is not a non-empty string output. */
export function requireOutputs(value: Record<string, unknown>, keys: readonly string[], source: string): void {
  const missing = keys.filter((k) => typeof value[k] !== "string" || value[k] === "");
  if (missing.length) {
    throw new Error(
      `${source}: missing stack output${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (is this \`pulumi stack output --json\` of a CoffeETL stack, deployed by this release?)`,
    );
  }
}

/**
 * Parses the outputs; errors name the source and what is missing. The region is `region` when
 * given, else $AWS_REGION, else the one in the stack's queue URLs and ARNs.
 */
export function parseOutputs(json: string, source: string, region?: string): DeployedStack {
  const value = outputsObject(json, source);
  requireOutputs(value, REQUIRED, source);
  const found =
    region ??
    process.env.AWS_REGION ??
    ["deadLetterQueueUrl", "loadQueueUrl", "loadQueueArn", "alarmTopicArn", "deadLetterQueueArn"].map((k) => regionOf(value[k])).find(Boolean);
  if (!found) throw new UsageError(`${source}: no AWS region in the stack outputs: give --region or set AWS_REGION`);
  // Stacks deployed before the rename name this output transactionSecretParameter.
  const transactionIdKeyParameter = [value.transactionIdKeyParameter, value.transactionSecretParameter].find(
    (v): v is string => typeof v === "string" && v !== "",
  );
  return {
    source,
    region: found,
    rawBucketName: value.rawBucketName as string,
    transformedBucketName: value.transformedBucketName as string,
    warehouseParameterName: value.warehouseParameterName as string,
    extractTransformFunctionName: value.extractTransformFunctionName as string,
    ...(transactionIdKeyParameter ? { transactionIdKeyParameter } : {}),
  };
}

/** The outputs file's text (`-`: standard input); a missing file says how to write it. */
export async function readOutputsText(file: string): Promise<string> {
  return file === "-"
    ? await text(process.stdin)
    : await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
        throw new Error(
          `cannot read ${file}: ${error.code === "ENOENT" ? "no such file" : error.message} (write it with \`pulumi stack output --json > ${file}\`)`,
        );
      });
}

/** Reads the outputs file (`-`: standard input). */
export async function readOutputs(file: string, region?: string): Promise<DeployedStack> {
  return parseOutputs(await readOutputsText(file), file === "-" ? "standard input" : file, region);
}

export interface StackClients {
  s3: S3Client;
  lambda: LambdaClient;
  redshift: RedshiftDataClient;
  ssm: SSMClient;
}

/** SDK clients for the stack's region (endpoints and credentials from the environment, as the AWS CLI). */
export async function stackClients(stack: DeployedStack): Promise<StackClients> {
  const [{ S3Client }, { LambdaClient }, { RedshiftDataClient }, { SSMClient }] = await Promise.all([
    import("@aws-sdk/client-s3"),
    import("@aws-sdk/client-lambda"),
    import("@aws-sdk/client-redshift-data"),
    import("@aws-sdk/client-ssm"),
  ]);
  const region = stack.region;
  return { s3: new S3Client({ region }), lambda: new LambdaClient({ region }), redshift: new RedshiftDataClient({ region }), ssm: new SSMClient({ region }) };
}

/** The warehouse settings the CLI reads with: the reader's identity where the settings name the loader's user. */
export function readerSettings(connection: WarehouseSettings): WarehouseSettings {
  const t = connection.target;
  if (t.kind === "provisioned" && "dbUser" in t) return { ...connection, target: { ...t, dbUser: connection.readerDbUser ?? DEFAULT_READER_DB_USER } };
  return connection;
}

/** Redshift errors that mean "this identity may not read the tables", explained. */
function explainDenied(error: Error, stack: DeployedStack, connection: WarehouseSettings): Error {
  if (!/permission denied|not authorized|AccessDenied/i.test(`${error.name} ${error.message}`)) return error;
  const t = connection.target;
  const who =
    t.kind === "serverless"
      ? "your AWS identity's database user (IAM:<user> or IAMR:<role>) needs the coffeetl_reader role: tag the IAM role you use with RedshiftDbRoles=coffeetl_reader (docs/deploy.md)"
      : "secretArn" in t
        ? "the secret's database user needs SELECT on the CoffeETL tables"
        : `your AWS identity needs redshift:GetClusterCredentials for the reader user ${t.dbUser} (docs/deploy.md)`;
  return new Error(`the warehouse of ${stack.source} refused the read: ${who} (${error.message})`);
}

export interface OpenedStack {
  stack: DeployedStack;
  clients: StackClients;
  warehouse: Warehouse;
  raw: Storage;
  transformed: Storage;
  close(): Promise<void>;
}

/** The stack's warehouse (Data API, reader identity) and buckets; `clients` may be given (tests). */
export async function openStack(stack: DeployedStack, clients?: StackClients): Promise<OpenedStack> {
  const c = clients ?? (await stackClients(stack));
  const [{ RedshiftWarehouse }, { S3Storage }, { readWarehouseSettings }] = await Promise.all([
    import("../functions/aws/redshift-warehouse.js"),
    import("../functions/aws/s3-storage.js"),
    import("../functions/aws/ssm.js"),
  ]);
  const connection = readerSettings(
    await readWarehouseSettings(c.ssm, stack.warehouseParameterName, { maxAttempts: 3 }).catch((error: Error) => {
      throw new Error(`the warehouse connection of ${stack.source}: ${error.message}`);
    }),
  );
  // Interactive reads: poll briskly, give up after a few minutes rather than an invocation's 15;
  // a refused read says which grant is missing.
  class ReaderWarehouse extends RedshiftWarehouse {
    override async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
      return super.query<T>(sql).catch((error: Error) => Promise.reject(explainDenied(error, stack, connection)));
    }
  }
  const warehouse = new ReaderWarehouse(c.redshift, connection, {
    pollInitialMs: 100,
    pollMaxMs: 1_000,
    remainingTimeMs: deadline(5 * 60_000),
    safetyMarginMs: 0,
  });
  return {
    stack,
    clients: c,
    warehouse,
    raw: new S3Storage(c.s3, stack.rawBucketName),
    transformed: new S3Storage(c.s3, stack.transformedBucketName),
    async close() {
      for (const client of Object.values(c) as Array<{ destroy(): void }>) client.destroy();
    },
  };
}

const deadline = (ms: number) => {
  const until = Date.now() + ms;
  return () => until - Date.now();
};
