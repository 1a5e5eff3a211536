// Configuration read from SSM Parameter Store: the transaction-id key and the warehouse settings.
// Values are cached for the life of the container (per client and parameter name). Errors name the
// parameter and what is wrong with it, never its value.
//
// A morning burst starts hundreds of containers at once, each reading its parameters once, while SSM
// serves about 40 GetParameter calls a second per account and region (default throughput). Throttled
// and transient failures are retried with exponential backoff and full jitter (AWS Architecture Blog,
// "Exponential Backoff And Jitter"), up to `maxAttempts`. The loop is here rather than in the SDK's
// retry strategy because the SDK's standard mode stops after 3 attempts and its per-client retry quota
// is tuned for steady traffic; handlers create their SSM client with `maxAttempts: 1` so the two
// layers do not multiply.
import { keyWeakness } from "../core/keys.js";
import { GetParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";

export interface RetryOptions {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Backoff before retry n (1-based) is random() × min(capMs, baseMs × 2^(n-1)). */
  baseMs: number;
  capMs: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxAttempts: 12,
  baseMs: 100,
  capMs: 10_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/** Error names SSM (and the SDK) use for throttling and transient faults. */
const RETRYABLE = new Set([
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "Throttling",
  "InternalServerError",
  "InternalServerException",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
]);
const NETWORK = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);

export function isRetryableSsmError(error: unknown): boolean {
  const e = error as { name?: string; code?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  if (!e || typeof e !== "object") return false;
  if ((e.name && RETRYABLE.has(e.name)) || (e.code && NETWORK.has(e.code)) || e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  return status === 429 || (status !== undefined && status >= 500);
}

let caches = new WeakMap<SSMClient, Map<string, Promise<string>>>();

/** A parameter's decrypted value; cached when read successfully, read again after a failure. */
export function readParameter(client: SSMClient, name: string, retry: Partial<RetryOptions> = {}): Promise<string> {
  let cache = caches.get(client);
  if (!cache) caches.set(client, (cache = new Map()));
  let value = cache.get(name);
  if (!value) {
    value = fetchParameter(client, name, { ...DEFAULT_RETRY, ...retry });
    cache.set(name, value);
    value.catch(() => cache.delete(name));
  }
  return value;
}

/** Forgets cached values (tests; or after a rotation, if a caller ever needs it). */
export function clearParameterCache(): void {
  caches = new WeakMap();
}

async function fetchParameter(client: SSMClient, name: string, retry: RetryOptions): Promise<string> {
  let response;
  for (let attempt = 1; ; attempt++) {
    try {
      response = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      break;
    } catch (error) {
      const e = error as Error;
      if (e?.name === "ParameterNotFound") throw new Error(`SSM parameter "${name}" does not exist (ParameterNotFound)`, { cause: error });
      if (attempt < retry.maxAttempts && isRetryableSsmError(error)) {
        await retry.sleep(retry.random() * Math.min(retry.capMs, retry.baseMs * 2 ** (attempt - 1)));
        continue;
      }
      const tries = attempt > 1 ? ` after ${attempt} attempts` : "";
      throw new Error(`SSM parameter "${name}" could not be read${tries}: ${e?.name ?? "Error"}: ${e?.message ?? String(error)}`, { cause: error });
    }
  }
  const value = response.Parameter?.Value;
  if (value === undefined || value.trim() === "") throw new Error(`SSM parameter "${name}" is empty`);
  return value;
}

/** The name of a parameter, from an environment variable that must be set. */
export function parameterNameFromEnv(variable: string): string {
  const name = process.env[variable];
  if (!name) throw new Error(`environment variable ${variable} is not set (it names the SSM parameter to read)`);
  return name;
}

/** The transaction-id HMAC key (a SecureString). */
export async function readTransactionIdKey(client: SSMClient, name: string, retry?: Partial<RetryOptions>): Promise<string> {
  const value = await readParameter(client, name, retry);
  const weak = keyWeakness(value);
  if (weak) throw new Error(`SSM parameter "${name}" is too weak for an HMAC key: it ${weak}`);
  return value;
}

// ---- the warehouse settings ----------------------------------------------------------------------

/** Where the Data API sends statements. Holds no password: none is ever sent. */
export type RedshiftTarget =
  | { kind: "serverless"; workgroupName: string; database: string }
  | { kind: "provisioned"; clusterIdentifier: string; database: string; dbUser: string }
  | { kind: "provisioned"; clusterIdentifier: string; database: string; secretArn: string };

/** The warehouse parameter's JSON: where the load and the CLI send statements, and the role COPY assumes. */
export interface WarehouseSettings {
  target: RedshiftTarget;
  /** The IAM role Redshift assumes to read the transformed bucket in COPY. */
  copyRoleArn: string;
  /** Provisioned: Grafana's own read-only database user (functions/warehouse/reader-role.ts); never the loader's. */
  readerDbUser?: string;
}

export const IAM_ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/[A-Za-z0-9+=,.@_/-]{1,512}$/;
const SECRET_ARN = /^arn:aws(?:-[a-z]+)*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
const CLUSTER_ID = /^[a-z][a-z0-9-]{0,62}$/;
const WORKGROUP = /^[a-z0-9-]{3,64}$/;
const DATABASE = /^[A-Za-z_][A-Za-z0-9_$-]{0,126}$/;
const DB_USER = /^[A-Za-z0-9_.@+$-]{1,128}$/;

/**
 * Parses the warehouse settings JSON. Accepted shapes:
 * - `{workgroupName, database, copyRoleArn}`: Redshift Serverless;
 * - `{clusterIdentifier, database, dbUser | secretArn, copyRoleArn}`: provisioned cluster;
 * - `{host, port, "database-name", user, password, copyRoleArn}` (bootcamp): the cluster identifier is
 *   the first label of the host, the user becomes DbUser (temporary credentials); the password is ignored.
 */
export function parseWarehouseSettings(text: string, name: string): WarehouseSettings {
  const fail = (what: string): never => {
    throw new Error(`SSM parameter "${name}" ${what}`);
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail("is not valid JSON"); // the parser's message quotes the text, which may hold a password
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) fail("must be a JSON object");
  const v = value as Record<string, unknown>;
  const str = (field: string): string | undefined => {
    const x = v[field];
    if (x === undefined || x === null) return undefined;
    if (typeof x !== "string" || x.trim() === "") return fail(`has an invalid "${field}": expected a non-empty string`);
    return x.trim();
  };
  const check = (field: string, x: string, pattern: RegExp, expected: string): string =>
    pattern.test(x) ? x : fail(`has an invalid "${field}": expected ${expected}`);

  const copyRoleArn = str("copyRoleArn") ?? fail(`is missing "copyRoleArn" (the IAM role Redshift uses to COPY from S3)`);
  check("copyRoleArn", copyRoleArn, IAM_ROLE_ARN, "an IAM role ARN (arn:aws:iam::<account>:role/<name>)");
  const readerDbUser = str("readerDbUser");
  if (readerDbUser !== undefined) check("readerDbUser", readerDbUser, DB_USER, "a database user name");

  const workgroupName = str("workgroupName");
  const clusterIdentifier = str("clusterIdentifier");
  const host = str("host");
  const shapes = [workgroupName, clusterIdentifier, host].filter((x) => x !== undefined).length;
  if (shapes === 0) fail(`has none of "workgroupName" (Serverless), "clusterIdentifier" or "host" (provisioned)`);
  if (shapes > 1) fail(`must have only one of "workgroupName", "clusterIdentifier" and "host"`);

  if (workgroupName !== undefined) {
    const database = str("database") ?? fail(`is missing "database"`);
    return {
      target: {
        kind: "serverless",
        workgroupName: check("workgroupName", workgroupName, WORKGROUP, "a workgroup name (3-64 of a-z, 0-9, -)"),
        database: check("database", database, DATABASE, "a database name"),
      },
      copyRoleArn,
    };
  }

  if (clusterIdentifier !== undefined) {
    const database = str("database") ?? fail(`is missing "database"`);
    const dbUser = str("dbUser");
    const secretArn = str("secretArn");
    if (dbUser === undefined && secretArn === undefined) fail(`needs "dbUser" or "secretArn" with "clusterIdentifier"`);
    if (dbUser !== undefined && secretArn !== undefined) fail(`must have only one of "dbUser" and "secretArn"`);
    const base = {
      kind: "provisioned" as const,
      clusterIdentifier: check("clusterIdentifier", clusterIdentifier, CLUSTER_ID, "a cluster identifier (lowercase letters, digits, -)"),
      database: check("database", database, DATABASE, "a database name"),
    };
    return {
      target:
        secretArn !== undefined
          ? { ...base, secretArn: check("secretArn", secretArn, SECRET_ARN, "a Secrets Manager secret ARN") }
          : { ...base, dbUser: check("dbUser", dbUser!, DB_USER, "a database user name") },
      copyRoleArn,
      ...(readerDbUser !== undefined ? { readerDbUser } : {}),
    };
  }

  // Bootcamp shape: a JDBC-style connection. Only the host, database and user are used.
  const label = host!.toLowerCase().split(".")[0] ?? "";
  if (!CLUSTER_ID.test(label) || !/\.redshift(-serverless)?\.amazonaws\.com(\.cn)?$/.test(host!.toLowerCase()))
    fail(`has an invalid "host": expected a Redshift cluster endpoint (<cluster>.<id>.<region>.redshift.amazonaws.com)`);
  if (/\.redshift-serverless\./.test(host!.toLowerCase())) fail(`has a Redshift Serverless "host": use {"workgroupName", "database", "copyRoleArn"} instead`);
  const database = str("database-name") ?? str("database") ?? fail(`is missing "database-name"`);
  const user = str("user") ?? fail(`is missing "user"`);
  return {
    target: {
      kind: "provisioned",
      clusterIdentifier: label,
      database: check("database-name", database, DATABASE, "a database name"),
      dbUser: check("user", user, DB_USER, "a database user name"),
    },
    copyRoleArn,
    ...(readerDbUser !== undefined ? { readerDbUser } : {}),
  };
}

export async function readWarehouseSettings(client: SSMClient, name: string, retry?: Partial<RetryOptions>): Promise<WarehouseSettings> {
  return parseWarehouseSettings(await readParameter(client, name, retry), name);
}
