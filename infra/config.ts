// Typed, validated stack configuration (docs/design.md §11). Every `coffeetl:` key is read once,
// here; the rest of the program receives a plain `CoffeetlConfig` object.
//
// `parseConfig` is a pure function over the raw string values (what `pulumi config get` shows), so
// it is unit-tested without a Pulumi engine; `loadConfig` reads the stack's configuration with it.
// Every problem is reported at once, each naming the key and the command that fixes it.
import * as pulumi from "@pulumi/pulumi";
import { GRAFANA_CONFIG_KEYS, parseGrafanaConfig, pinnedPlugins, type GrafanaHostSettings } from "./grafana-config.js";
import { MANIFESTS_PER_TRANSACTION } from "../functions/core/limits.js";

const PROJECT = "coffeetl";

/** Where the warehouse comes from: the client's own Redshift, or a Serverless one this stack creates. */
export type WarehouseMode = "external" | "serverless";
export type LogLevel = "DEBUG" | "INFO" | "WARN" | "ERROR";

export interface FunctionSettings {
  memoryMb: number;
  timeoutSeconds: number;
  /** Undefined: unreserved (account pool). */
  reservedConcurrency?: number;
}

export interface RedshiftScope {
  /** Provisioned cluster identifier, when known: narrows Data API and credential permissions. */
  clusterIdentifier?: string;
  /** Serverless workgroup name of an existing workgroup, when known. */
  workgroupName?: string;
  /** Database user for `GetClusterCredentials` (provisioned). */
  dbUser?: string;
  /** Database name, narrows `GetClusterCredentials` `dbname` resources. */
  database?: string;
  /** Secrets Manager secret used by the Data API instead of temporary credentials. */
  secretArn?: string;
}

export interface ServerlessWarehouseSettings {
  database: string;
  adminUsername: string;
  /** Redshift Processing Units (8 to 512, in steps of 8). */
  baseCapacity: number;
  /** Subnets for the workgroup; undefined: the network the stack builds (or the default VPC). */
  subnetIds?: string[];
  /** Ceiling the workgroup may scale to (RPUs). */
  maxCapacity: number;
  /** Pulumi `protect` on the namespace: no delete, no replacement, until turned off (dev stacks). */
  protect: boolean;
  /** RPU-hours per period; undefined: no usage limit. */
  usageLimit?: { rpuHours: number; period: "daily" | "weekly" | "monthly"; breachAction: "log" | "emit-metric" | "deactivate" };
}

export interface CoffeetlConfig {
  stack: string;
  /** SSM parameter with the warehouse connection JSON (docs/design.md §9, §11). */
  redshiftParameterName: string;
  warehouse: WarehouseMode;
  serverless: ServerlessWarehouseSettings;
  redshift: RedshiftScope;
  grafana: GrafanaHostSettings & { allowPublic: boolean };
  network: { vpcId?: string; subnetId?: string };
  extractTransform: FunctionSettings;
  load: FunctionSettings;
  maxRetryAttempts: number;
  maxEventAgeSeconds: number;
  logRetentionDays: number;
  logLevel: LogLevel;
  alarmEmail?: string;
  rawNoncurrentVersionExpirationDays: number;
  transformedExpirationDays: number;
  forceDestroy: boolean;
  /** Prefix of the SSM parameters this stack owns. */
  parameterPrefix: string;
  /** Optional `coffeetl:transactionSecret` (a Pulumi secret): reuse an existing id secret instead of generating one. */
  transactionSecret?: pulumi.Output<string>;
  loadQueue: LoadQueueSettings;
  /** Names of the upload identities (docs/uploads.md); each writes only under `uploads/<name>/`. */
  uploaders: string[];
  /** Branch names each uploader may send (rows of others are rejected); an uploader not listed: its own name. */
  uploaderBranches: Record<string, string[]>;
  alarms: AlarmSettings;
  /** Daily "every uploader sent a file" check; undefined: off. */
  uploadCheck?: UploadCheckSettings;
}

export interface LoadQueueSettings {
  /** Event source mapping: manifests per invocation, and how long Lambda waits to fill a batch. */
  batchSize: number;
  batchingWindowSeconds: number;
  /** Concurrent load invocations (the mapping's maximum concurrency; no reservation). */
  maxConcurrency: number;
  /** Receives before a manifest's message is parked in the load dead-letter queue. */
  maxReceives: number;
  /** Manifests per warehouse transaction (loadManifests' maxBatch). */
  manifestsPerTransaction: number;
  /** The load's longest wait between two Data API DescribeStatement polls (issue 23). */
  pollMaxMs: number;
}

/** Alarm thresholds; undefined: that alarm is off. */
export interface AlarmSettings {
  lambdaErrors?: number;
  lambdaThrottles?: number;
  asyncEventAgeSeconds?: number;
  deadLetterMessages?: number;
  queueAgeSeconds?: number;
}

export interface UploadCheckSettings {
  /** Local time (HH:MM) by which every uploader should have sent today's file. */
  deadline: string;
  timeZone: string;
}

/** Every key this program reads, with its default; the docs and the tests use the same list. */
export const CONFIG_KEYS = [
  "redshiftParameterName",
  "grafanaAllowedCidrs",
  "allowPublicGrafana",
  "warehouse",
  "warehouseDatabase",
  "warehouseAdminUsername",
  "warehouseBaseCapacity",
  "warehouseSubnetIds",
  "redshiftClusterIdentifier",
  "redshiftWorkgroupName",
  "redshiftDbUser",
  "redshiftDatabase",
  "redshiftSecretArn",
  "grafanaInstanceType",
  "grafanaVolumeSizeGb",
  "grafanaImage",
  "grafanaPlugins",
  "grafanaPublicIp",
  "vpcId",
  "subnetId",
  "extractTransformMemoryMb",
  "extractTransformTimeoutSeconds",
  "extractTransformReservedConcurrency",
  "loadMemoryMb",
  "loadTimeoutSeconds",
  "loadReservedConcurrency",
  "maxRetryAttempts",
  "maxEventAgeSeconds",
  "logRetentionDays",
  "logLevel",
  "alarmEmail",
  "loadBatchSize",
  "loadBatchingWindowSeconds",
  "loadMaxConcurrency",
  "loadMaxReceives",
  "loadManifestsPerTransaction",
  "loadPollMaxMs", // issue 23: the load's Data API polling cap
  "uploaders",
  "uploaderBranches",
  "uploadDeadline",
  "uploadDeadlineTimeZone",
  "alarmLambdaErrors",
  "alarmLambdaThrottles",
  "alarmAsyncEventAgeSeconds",
  "alarmDeadLetterMessages",
  "alarmQueueAgeSeconds",
  "warehouseMaxCapacity",
  "warehouseUsageLimitRpuHours",
  "warehouseUsageLimitPeriod",
  "warehouseUsageLimitAction",
  "rawNoncurrentVersionExpirationDays",
  "transformedExpirationDays",
  "forceDestroy",
  "warehouseProtect",
  // Grafana (infra/grafana-config.ts)
  ...GRAFANA_CONFIG_KEYS,
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];
export type RawConfig = Partial<Record<ConfigKey, string>>;

const DEFAULT_GRAFANA_IMAGE = "grafana/grafana:12.4.0";
/** The created workgroup's daily usage cap (RPU-hours), after which Redshift stops its queries. */
const DEFAULT_USAGE_LIMIT_RPU_HOURS = 8;
/** CloudWatch Logs accepts only these retention periods. */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid coffeetl stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses an IPv4 CIDR (`a.b.c.d/n`) strictly; returns undefined when it is not one. */
export function parseCidr(text: string): { address: number; prefix: number } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o, i) => o > 255 || (m[i + 1]!.length > 1 && m[i + 1]!.startsWith("0"))) || prefix > 32) return undefined;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const hostBits = 32 - prefix;
  // Host bits must be zero (203.0.113.7/24 is a typo for /32 or .0/24: refuse rather than guess).
  if (hostBits > 0 && address % 2 ** hostBits !== 0) return undefined;
  return { address, prefix };
}

/** Lower-case slug of the stack name, for physical names with stricter rules (buckets, workgroups). */
export function slug(stack: string, max: number): string {
  return (
    stack
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, max)
      .replace(/-+$/, "") || "stack"
  );
}

/** `arm64` for Graviton types (`t4g`, `m7gd`, `c7gn`...), else `x86_64`. */
export function architectureOf(instanceType: string): "arm64" | "x86_64" {
  const m = /^([a-z]+)(\d+)([a-z-]*)\./.exec(instanceType);
  return m && m[3]!.includes("g") ? "arm64" : "x86_64";
}

/** A config value that may be a YAML list (`--path key[0]`), a JSON array or a comma-separated string. */
function parseList(value: string): string[] | undefined {
  const text = value.trim();
  if (text.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === "string")) return parsed.map((x: string) => x.trim());
    } catch {
      /* reported by the caller */
    }
    return undefined;
  }
  return text
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
}

/** Pure: validates the raw config strings of stack `stack`, throwing one ConfigError listing every problem. */
export function parseConfig(raw: RawConfig, stack: string): CoffeetlConfig {
  const problems: string[] = [];
  const has = (key: ConfigKey) => raw[key] !== undefined && raw[key]!.trim() !== "";
  const str = (key: ConfigKey) => (has(key) ? raw[key]!.trim() : undefined);

  function int(key: ConfigKey, fallback: number, min: number, max: number): number {
    const text = str(key);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`coffeetl:${key} must be an integer from ${min} to ${max} (got "${text}")`);
      return fallback;
    }
    return n;
  }
  function optionalInt(key: ConfigKey, min: number, max: number): number | undefined {
    return has(key) ? int(key, min, min, max) : undefined;
  }
  function bool(key: ConfigKey, fallback: boolean): boolean {
    const text = str(key);
    if (text === undefined) return fallback;
    if (text === "true") return true;
    if (text === "false") return false;
    problems.push(`coffeetl:${key} must be true or false (got "${text}")`);
    return fallback;
  }
  function pattern(key: ConfigKey, re: RegExp, what: string): string | undefined {
    const text = str(key);
    if (text !== undefined && !re.test(text)) problems.push(`coffeetl:${key} must be ${what} (got "${text}")`);
    return text;
  }

  if (!/^[A-Za-z0-9_-]{1,36}$/.test(stack)) {
    problems.push(`stack name "${stack}" is part of function and queue names: use at most 36 letters, digits, "-" or "_" (e.g. acme-prod)`);
  }

  const redshiftParameterName = str("redshiftParameterName");
  if (!redshiftParameterName) {
    problems.push(
      "coffeetl:redshiftParameterName is required: the name of the SSM parameter holding the warehouse connection JSON " +
        "(set it with `pulumi config set redshiftParameterName /coffeetl/<client>/redshift`)",
    );
  } else if (!/^[a-zA-Z0-9_.\-/]{1,1011}$/.test(redshiftParameterName)) {
    problems.push(`coffeetl:redshiftParameterName is not a valid SSM parameter name (got "${redshiftParameterName}")`);
  }

  const allowPublic = bool("allowPublicGrafana", false);
  const cidrText = str("grafanaAllowedCidrs");
  let allowedCidrs: string[] = [];
  if (cidrText === undefined) {
    problems.push(
      "coffeetl:grafanaAllowedCidrs is required: the IPv4 CIDRs allowed to reach Grafana, e.g. " +
        "`pulumi config set --path 'grafanaAllowedCidrs[0]' 203.0.113.0/24` (there is no default that opens it to the world)",
    );
  } else {
    const list = parseList(cidrText);
    if (!list || list.length === 0) {
      problems.push(`coffeetl:grafanaAllowedCidrs must be a non-empty list of IPv4 CIDRs (got ${cidrText})`);
    } else {
      for (const cidr of list) {
        const parsed = parseCidr(cidr);
        if (!parsed) {
          problems.push(`coffeetl:grafanaAllowedCidrs: "${cidr}" is not a valid IPv4 CIDR (expected a.b.c.d/n with zero host bits, e.g. 203.0.113.0/24)`);
        } else if (parsed.prefix === 0 && !allowPublic) {
          problems.push(
            `coffeetl:grafanaAllowedCidrs: "${cidr}" opens Grafana to the whole internet; list your office or VPN CIDRs, ` +
              "or set coffeetl:allowPublicGrafana to true if that is really intended",
          );
        }
      }
      allowedCidrs = [...new Set(list)];
    }
  }

  const warehouseText = str("warehouse") ?? "external";
  if (warehouseText !== "external" && warehouseText !== "serverless") {
    problems.push(`coffeetl:warehouse must be "external" (the client's Redshift, default) or "serverless" (created by this stack), got "${warehouseText}"`);
  }
  const warehouse: WarehouseMode = warehouseText === "serverless" ? "serverless" : "external";

  const identifier = /^[a-z][a-z0-9-]{0,62}$/;
  const clusterIdentifier = pattern("redshiftClusterIdentifier", identifier, "a Redshift cluster identifier (lower case letters, digits, hyphens)");
  const workgroupName = pattern("redshiftWorkgroupName", /^[a-z0-9-]{3,64}$/, "a Redshift Serverless workgroup name (3-64 of a-z, 0-9, -)");
  const dbUser = pattern("redshiftDbUser", /^[a-zA-Z_][a-zA-Z0-9_$.@+-]{0,127}$/, "a database user name");
  const database = pattern("redshiftDatabase", /^[a-zA-Z_][a-zA-Z0-9_$]{0,63}$/, "a database name");
  const secretArn = pattern("redshiftSecretArn", /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, "a Secrets Manager secret ARN");
  if (clusterIdentifier && workgroupName) problems.push("set only one of coffeetl:redshiftClusterIdentifier and coffeetl:redshiftWorkgroupName");
  if (warehouse === "serverless" && (clusterIdentifier || workgroupName || secretArn || dbUser)) {
    problems.push(
      "coffeetl:warehouse is serverless: the stack creates the workgroup, so remove coffeetl:redshiftClusterIdentifier/WorkgroupName/DbUser/SecretArn",
    );
  }

  const serverlessDatabase = pattern("warehouseDatabase", /^[a-z_][a-z0-9_$]{0,63}$/, "a lower-case database name") ?? "coffeetl";
  const adminUsername = pattern("warehouseAdminUsername", /^[a-z_][a-z0-9_]{0,127}$/, "a lower-case user name") ?? "coffeetl_admin";
  const baseCapacity = int("warehouseBaseCapacity", 8, 8, 512);
  if (baseCapacity % 8 !== 0) problems.push(`coffeetl:warehouseBaseCapacity must be a multiple of 8 (got ${baseCapacity})`);
  const warehouseSubnetText = str("warehouseSubnetIds");
  const warehouseSubnetIds = warehouseSubnetText === undefined ? undefined : parseList(warehouseSubnetText);
  if (warehouseSubnetText !== undefined && (!warehouseSubnetIds || warehouseSubnetIds.some((s) => !/^subnet-[0-9a-f]+$/.test(s)))) {
    problems.push(`coffeetl:warehouseSubnetIds must be a list of subnet ids (got ${warehouseSubnetText})`);
  }

  const instanceType = pattern("grafanaInstanceType", /^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an EC2 instance type such as t4g.small") ?? "t4g.small";
  const vpcId = pattern("vpcId", /^vpc-[0-9a-f]+$/, "a VPC id (vpc-...)");
  const subnetId = pattern("subnetId", /^subnet-[0-9a-f]+$/, "a subnet id (subnet-...)");
  if (Boolean(vpcId) !== Boolean(subnetId)) problems.push("set both coffeetl:vpcId and coffeetl:subnetId (the Grafana subnet must be in that VPC), or neither");

  // Least privilege needs to know the warehouse: an external one must be named, with its identity.
  if (warehouse === "external") {
    if (!clusterIdentifier && !workgroupName) {
      problems.push(
        "coffeetl:warehouse is external: name the warehouse so the roles get credentials for it only: " +
          "`pulumi config set redshiftWorkgroupName <workgroup>` (Serverless) or " +
          "`pulumi config set redshiftClusterIdentifier <cluster>` with redshiftDbUser (or redshiftSecretArn) and redshiftDatabase (provisioned)",
      );
    }
    if (clusterIdentifier && !dbUser && !secretArn) {
      problems.push(
        "coffeetl:redshiftClusterIdentifier needs the database identity: `pulumi config set redshiftDbUser <user>` (temporary credentials) or redshiftSecretArn",
      );
    }
    if (clusterIdentifier && dbUser && !database) {
      problems.push(
        "coffeetl:redshiftDbUser needs coffeetl:redshiftDatabase (the credentials are issued for that database only): `pulumi config set redshiftDatabase <name>`",
      );
    }
    if (dbUser && secretArn) problems.push("set only one of coffeetl:redshiftDbUser and coffeetl:redshiftSecretArn");
    if (workgroupName && (dbUser || secretArn)) {
      problems.push("coffeetl:redshiftWorkgroupName uses the function's IAM identity (IAMR:<role>): remove coffeetl:redshiftDbUser/redshiftSecretArn");
    }
  }

  const loadTimeoutSeconds = int("loadTimeoutSeconds", 600, 10, 900);
  const batchSize = int("loadBatchSize", 100, 1, 10000);
  // Issue 23: a lone file's manifest waits the whole window; a burst fills its batches while both
  // loads run, so it needs none. 1 s is the least AWS allows with batches of more than 10.
  const batchingWindowSeconds = int("loadBatchingWindowSeconds", 1, 0, 300);
  // AWS rejects an SQS mapping with more than 10 messages per batch and no batching window.
  if (batchSize > 10 && batchingWindowSeconds < 1)
    problems.push(`coffeetl:loadBatchSize ${batchSize} (above 10) needs coffeetl:loadBatchingWindowSeconds of at least 1`);
  const loadQueue: LoadQueueSettings = {
    batchSize,
    batchingWindowSeconds,
    maxConcurrency: int("loadMaxConcurrency", 2, 2, 1000),
    maxReceives: int("loadMaxReceives", 3, 1, 1000),
    manifestsPerTransaction: int("loadManifestsPerTransaction", MANIFESTS_PER_TRANSACTION, 1, 200),
    pollMaxMs: int("loadPollMaxMs", 1_000, 100, 30_000),
  };

  const uploaderText = str("uploaders");
  const uploaders = uploaderText === undefined ? [] : (parseList(uploaderText) ?? []);
  if (uploaderText !== undefined && uploaders.length === 0) problems.push(`coffeetl:uploaders must be a list of names (got ${uploaderText})`);
  for (const name of uploaders) {
    if (!/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/.test(name)) {
      problems.push(`coffeetl:uploaders: "${name}" must be 1-40 of a-z, 0-9 and "-" (it becomes the S3 prefix uploads/${name}/ and part of IAM names)`);
    }
  }
  if (new Set(uploaders).size !== uploaders.length) problems.push("coffeetl:uploaders lists a name twice");
  for (const name of uploaders) {
    // IAM user names are at most 64 characters (infra/upload-identities.ts names them).
    const user = `coffeetl-${stack}-upload-${name}`;
    if (user.length > 64) problems.push(`coffeetl:uploaders: "${name}" makes the IAM user name ${user} longer than 64 characters: use a shorter name`);
  }

  // Per-uploader branch names: `pulumi config set --path 'uploaderBranches.north[0]' Leeds`.
  const uploaderBranches: Record<string, string[]> = {};
  const branchesText = str("uploaderBranches");
  if (branchesText !== undefined) {
    let value: unknown;
    try {
      value = JSON.parse(branchesText);
    } catch {
      value = undefined;
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      problems.push(`coffeetl:uploaderBranches must map uploader names to lists of branch names, e.g. {"north": ["Leeds", "York"]} (got ${branchesText})`);
    } else {
      for (const [name, list] of Object.entries(value as Record<string, unknown>)) {
        if (!uploaders.includes(name)) problems.push(`coffeetl:uploaderBranches: "${name}" is not in coffeetl:uploaders`);
        else if (!Array.isArray(list) || list.length === 0 || !list.every((b) => typeof b === "string" && b.trim() !== "" && b.length <= 256)) {
          problems.push(`coffeetl:uploaderBranches.${name} must be a non-empty list of branch names as they appear in the files (e.g. ["Leeds"])`);
        } else uploaderBranches[name] = (list as string[]).map((b) => b.trim());
      }
      // It travels in the function's environment (4 KB for all its variables).
      if (JSON.stringify(uploaderBranches).length > 2048)
        problems.push("coffeetl:uploaderBranches is over 2 KB as JSON: list fewer names per uploader, or name uploaders after their branch");
    }
  }

  const deadline = pattern("uploadDeadline", /^([01]\d|2[0-3]):[0-5]\d$/, "a local time HH:MM, e.g. 10:00");
  const timeZone = pattern("uploadDeadlineTimeZone", /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/, "an IANA time zone such as Europe/London") ?? "Europe/London";
  if (deadline && uploaders.length === 0) problems.push("coffeetl:uploadDeadline checks the uploaders' prefixes: list them in coffeetl:uploaders");

  /** A threshold, or "off". */
  function threshold(key: ConfigKey, fallback: number, min: number, max: number): number | undefined {
    return str(key)?.toLowerCase() === "off" ? undefined : int(key, fallback, min, max);
  }
  const alarms: AlarmSettings = {
    lambdaErrors: threshold("alarmLambdaErrors", 0, 0, 100000),
    lambdaThrottles: threshold("alarmLambdaThrottles", 0, 0, 100000),
    asyncEventAgeSeconds: threshold("alarmAsyncEventAgeSeconds", 1800, 60, 21600),
    deadLetterMessages: threshold("alarmDeadLetterMessages", 0, 0, 100000),
    queueAgeSeconds: threshold("alarmQueueAgeSeconds", 3600, 60, 1209600),
  };

  const maxCapacity = int("warehouseMaxCapacity", Math.max(32, baseCapacity), 8, 5632);
  if (maxCapacity % 8 !== 0 || maxCapacity < baseCapacity) {
    problems.push(`coffeetl:warehouseMaxCapacity must be a multiple of 8 and at least warehouseBaseCapacity ${baseCapacity} (got ${maxCapacity})`);
  }
  // A small chain's day: its loads and dashboards refreshing hourly use 2-4 RPU-hours at base capacity 8
  // (a query bills at least 60 s at the whole workgroup's RPUs); the cap stops a runaway at ~$3 a day
  // (us-east-1 list price $0.375 per RPU-hour), the alarm warns at 75% of it (docs/deploy.md, cost).
  const usageLimitRpuHours = threshold("warehouseUsageLimitRpuHours", DEFAULT_USAGE_LIMIT_RPU_HOURS, 1, 1000000);
  const period = str("warehouseUsageLimitPeriod") ?? "daily";
  if (!["daily", "weekly", "monthly"].includes(period)) problems.push(`coffeetl:warehouseUsageLimitPeriod must be daily, weekly or monthly (got "${period}")`);
  const breachAction = str("warehouseUsageLimitAction") ?? "deactivate";
  if (!["log", "emit-metric", "deactivate"].includes(breachAction)) {
    problems.push(`coffeetl:warehouseUsageLimitAction must be log, emit-metric or deactivate (got "${breachAction}")`);
  }
  if (warehouse !== "serverless") {
    for (const key of ["warehouseMaxCapacity", "warehouseUsageLimitRpuHours", "warehouseUsageLimitPeriod", "warehouseUsageLimitAction"] as const) {
      if (has(key)) problems.push(`coffeetl:${key} applies only to a warehouse this stack creates (coffeetl:warehouse serverless)`);
    }
  }
  const usageLimit =
    usageLimitRpuHours === undefined
      ? undefined
      : { rpuHours: usageLimitRpuHours, period: period as "daily" | "weekly" | "monthly", breachAction: breachAction as "log" | "emit-metric" | "deactivate" };

  const logRetentionDays = int("logRetentionDays", 30, 1, 3653);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    problems.push(`coffeetl:logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(", ")} (got ${logRetentionDays})`);
  }
  const logLevel = (str("logLevel") ?? "INFO").toUpperCase();
  if (!["DEBUG", "INFO", "WARN", "ERROR"].includes(logLevel)) problems.push(`coffeetl:logLevel must be DEBUG, INFO, WARN or ERROR (got "${logLevel}")`);
  const alarmEmail = pattern("alarmEmail", /^[^@\s]+@[^@\s]+\.[^@\s]+$/, "an e-mail address");

  // Grafana (infra/grafana-config.ts): viewers, reader user, data volume, front.
  const grafanaExtra = parseGrafanaConfig(raw, problems);
  const grafanaPublicIp = bool("grafanaPublicIp", true);
  if (!grafanaPublicIp && !vpcId) {
    problems.push(
      "coffeetl:grafanaPublicIp is false, but the stack's own VPC has no NAT gateway: the host could not install Grafana and CloudFront could not reach it. " +
        "Keep the default (a public address that admits only CloudFront), or give coffeetl:vpcId and coffeetl:subnetId of a private subnet whose route table has a NAT gateway",
    );
  }

  const config: CoffeetlConfig = {
    stack,
    redshiftParameterName: redshiftParameterName ?? "",
    warehouse,
    serverless: {
      database: serverlessDatabase,
      adminUsername,
      baseCapacity,
      subnetIds: warehouseSubnetIds,
      maxCapacity,
      usageLimit,
      protect: bool("warehouseProtect", true),
    },
    redshift: { clusterIdentifier, workgroupName, dbUser, database, secretArn },
    grafana: {
      allowedCidrs,
      allowPublic,
      instanceType,
      architecture: architectureOf(instanceType),
      volumeSizeGb: int("grafanaVolumeSizeGb", 20, 8, 1024),
      image: pattern("grafanaImage", /^[\w./-]+(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$/, "a container image reference") ?? DEFAULT_GRAFANA_IMAGE,
      plugins: pinnedPlugins(
        pattern("grafanaPlugins", /^[\w.@,-]+$/, "a comma-separated list of Grafana plugin ids"),
        str("grafanaRedshiftPluginVersion"),
        problems,
      ),
      associatePublicIp: grafanaPublicIp,
      ...grafanaExtra,
    },
    network: { vpcId, subnetId },
    extractTransform: {
      memoryMb: int("extractTransformMemoryMb", 1024, 128, 10240),
      timeoutSeconds: int("extractTransformTimeoutSeconds", 300, 10, 900),
      reservedConcurrency: optionalInt("extractTransformReservedConcurrency", 1, 1000),
    },
    load: {
      memoryMb: int("loadMemoryMb", 256, 128, 10240),
      timeoutSeconds: loadTimeoutSeconds,
      // Unreserved by default: the queue mapping's maximum concurrency bounds the loads instead, and a
      // reservation fails on accounts with the default concurrency limit of 10.
      reservedConcurrency: optionalInt("loadReservedConcurrency", 1, 100),
    },
    maxRetryAttempts: int("maxRetryAttempts", 2, 0, 2),
    maxEventAgeSeconds: int("maxEventAgeSeconds", 21600, 60, 21600),
    logRetentionDays,
    logLevel: logLevel as LogLevel,
    alarmEmail,
    rawNoncurrentVersionExpirationDays: int("rawNoncurrentVersionExpirationDays", 90, 1, 3650),
    transformedExpirationDays: int("transformedExpirationDays", 30, 1, 3650),
    forceDestroy: bool("forceDestroy", false),
    parameterPrefix: `/${PROJECT}/${stack}`,
    loadQueue,
    uploaders,
    uploaderBranches,
    alarms,
    uploadCheck: deadline ? { deadline, timeZone } : undefined,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Reads and validates the current stack's `coffeetl:` configuration. */
export function loadConfig(): CoffeetlConfig {
  const cfg = new pulumi.Config(PROJECT);
  const raw: RawConfig = {};
  for (const key of CONFIG_KEYS) {
    const value = cfg.get(key);
    if (value !== undefined) raw[key] = value;
  }
  const config = parseConfig(raw, pulumi.getStack());
  const transactionSecret = cfg.getSecret("transactionSecret");
  return transactionSecret === undefined ? config : { ...config, transactionSecret };
}
