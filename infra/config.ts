// Typed, validated stack configuration (docs/design.md §11). Every `coffeetl:` key is read once,
// here; the rest of the program receives a plain `CoffeetlConfig` object.
//
// `parseConfig` is a pure function over the raw string values (what `pulumi config get` shows), so
// it is unit-tested without a Pulumi engine; `loadConfig` reads the stack's configuration with it.
// Every problem is reported at once, each naming the key and the command that fixes it.
import * as pulumi from "@pulumi/pulumi";
import { GRAFANA_CONFIG_KEYS, parseGrafanaConfig, pinnedPlugins, type GrafanaExtraSettings, type GrafanaHostSettings } from "./grafana-config.js";
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

/**
 * The raw strings with typed readers over them. Every reader that finds a bad value adds a problem to
 * `problems` (one list for the whole configuration) and returns the default, so parsing goes on.
 */
class ConfigReader {
  readonly problems: string[] = [];
  constructor(readonly raw: RawConfig) {}

  has(key: ConfigKey): boolean {
    return this.raw[key] !== undefined && this.raw[key]!.trim() !== "";
  }
  str(key: ConfigKey): string | undefined {
    return this.has(key) ? this.raw[key]!.trim() : undefined;
  }
  int(key: ConfigKey, fallback: number, min: number, max: number): number {
    const text = this.str(key);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problems.push(`coffeetl:${key} must be an integer from ${min} to ${max} (got "${text}")`);
      return fallback;
    }
    return n;
  }
  optionalInt(key: ConfigKey, min: number, max: number): number | undefined {
    return this.has(key) ? this.int(key, min, min, max) : undefined;
  }
  bool(key: ConfigKey, fallback: boolean): boolean {
    const text = this.str(key);
    if (text === undefined) return fallback;
    if (text === "true") return true;
    if (text === "false") return false;
    this.problems.push(`coffeetl:${key} must be true or false (got "${text}")`);
    return fallback;
  }
  pattern(key: ConfigKey, re: RegExp, what: string): string | undefined {
    const text = this.str(key);
    if (text !== undefined && !re.test(text)) this.problems.push(`coffeetl:${key} must be ${what} (got "${text}")`);
    return text;
  }
  /** A threshold, or "off". */
  threshold(key: ConfigKey, fallback: number, min: number, max: number): number | undefined {
    return this.str(key)?.toLowerCase() === "off" ? undefined : this.int(key, fallback, min, max);
  }
}

/** Pure: validates the raw config strings of stack `stack`, throwing one ConfigError listing every problem. */
export function parseConfig(raw: RawConfig, stack: string): CoffeetlConfig {
  const read = new ConfigReader(raw);
  // One section after another: their problems are listed in this order (tests/infra-config-order.test.ts).
  checkStackName(read, stack);
  const redshiftParameterName = parseWarehouseParameter(read);
  const grafanaAccess = parseGrafanaAccess(read);
  const warehouse = parseWarehouseMode(read);
  const redshift = parseRedshiftScope(read, warehouse);
  const serverlessBasics = parseServerlessBasics(read);
  const instanceType = parseGrafanaInstanceType(read);
  const network = parseNetwork(read);
  checkExternalWarehouse(read, warehouse, redshift);
  const { loadTimeoutSeconds, loadQueue } = parseLoadQueue(read);
  const uploaders = parseUploaders(read, stack);
  const uploaderBranches = parseUploaderBranches(read, uploaders);
  const uploadCheck = parseUploadCheck(read, uploaders);
  const alarms = parseAlarms(read);
  const serverlessLimits = parseServerlessLimits(read, warehouse, serverlessBasics.baseCapacity);
  const logs = parseLogs(read);
  const grafanaHost = parseGrafanaHost(read, network);
  const protect = read.bool("warehouseProtect", true);
  const grafanaImage = parseGrafanaImage(read);
  const functions = parseFunctions(read, loadTimeoutSeconds);
  const storage = parseStorage(read);
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return {
    stack,
    redshiftParameterName,
    warehouse,
    serverless: { ...serverlessBasics, ...serverlessLimits, protect },
    redshift,
    grafana: { ...grafanaAccess, instanceType, architecture: architectureOf(instanceType), ...grafanaImage, ...grafanaHost },
    network,
    ...functions,
    ...logs,
    ...storage,
    parameterPrefix: `/${PROJECT}/${stack}`,
    loadQueue,
    uploaders,
    uploaderBranches,
    alarms,
    uploadCheck,
  };
}

function checkStackName(read: ConfigReader, stack: string): void {
  if (!/^[A-Za-z0-9_-]{1,36}$/.test(stack)) {
    read.problems.push(`stack name "${stack}" is part of function and queue names: use at most 36 letters, digits, "-" or "_" (e.g. acme-prod)`);
  }
}

/** coffeetl:redshiftParameterName ("" when missing: a problem is reported, the config is never returned). */
function parseWarehouseParameter(read: ConfigReader): string {
  const redshiftParameterName = read.str("redshiftParameterName");
  if (!redshiftParameterName) {
    read.problems.push(
      "coffeetl:redshiftParameterName is required: the name of the SSM parameter holding the warehouse connection JSON " +
        "(set it with `pulumi config set redshiftParameterName /coffeetl/<client>/redshift`)",
    );
  } else if (!/^[a-zA-Z0-9_.\-/]{1,1011}$/.test(redshiftParameterName)) {
    read.problems.push(`coffeetl:redshiftParameterName is not a valid SSM parameter name (got "${redshiftParameterName}")`);
  }
  return redshiftParameterName ?? "";
}

/** Who may reach Grafana: coffeetl:grafanaAllowedCidrs, and coffeetl:allowPublicGrafana to admit the world. */
function parseGrafanaAccess(read: ConfigReader): { allowedCidrs: string[]; allowPublic: boolean } {
  const { problems } = read;
  const allowPublic = read.bool("allowPublicGrafana", false);
  const cidrText = read.str("grafanaAllowedCidrs");
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
  return { allowedCidrs, allowPublic };
}

function parseWarehouseMode(read: ConfigReader): WarehouseMode {
  const warehouseText = read.str("warehouse") ?? "external";
  if (warehouseText !== "external" && warehouseText !== "serverless") {
    read.problems.push(
      `coffeetl:warehouse must be "external" (the client's Redshift, default) or "serverless" (created by this stack), got "${warehouseText}"`,
    );
  }
  return warehouseText === "serverless" ? "serverless" : "external";
}

/** The client's warehouse and identity (coffeetl:redshift*), which a created warehouse must not have. */
function parseRedshiftScope(read: ConfigReader, warehouse: WarehouseMode): RedshiftScope {
  const identifier = /^[a-z][a-z0-9-]{0,62}$/;
  const clusterIdentifier = read.pattern("redshiftClusterIdentifier", identifier, "a Redshift cluster identifier (lower case letters, digits, hyphens)");
  const workgroupName = read.pattern("redshiftWorkgroupName", /^[a-z0-9-]{3,64}$/, "a Redshift Serverless workgroup name (3-64 of a-z, 0-9, -)");
  const dbUser = read.pattern("redshiftDbUser", /^[a-zA-Z_][a-zA-Z0-9_$.@+-]{0,127}$/, "a database user name");
  const database = read.pattern("redshiftDatabase", /^[a-zA-Z_][a-zA-Z0-9_$]{0,63}$/, "a database name");
  const secretArn = read.pattern("redshiftSecretArn", /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, "a Secrets Manager secret ARN");
  if (clusterIdentifier && workgroupName) read.problems.push("set only one of coffeetl:redshiftClusterIdentifier and coffeetl:redshiftWorkgroupName");
  if (warehouse === "serverless" && (clusterIdentifier || workgroupName || secretArn || dbUser)) {
    read.problems.push(
      "coffeetl:warehouse is serverless: the stack creates the workgroup, so remove coffeetl:redshiftClusterIdentifier/WorkgroupName/DbUser/SecretArn",
    );
  }
  return { clusterIdentifier, workgroupName, dbUser, database, secretArn };
}

/** The created warehouse's database, admin, base capacity and subnets. */
function parseServerlessBasics(read: ConfigReader): Pick<ServerlessWarehouseSettings, "database" | "adminUsername" | "baseCapacity" | "subnetIds"> {
  const database = read.pattern("warehouseDatabase", /^[a-z_][a-z0-9_$]{0,63}$/, "a lower-case database name") ?? "coffeetl";
  const adminUsername = read.pattern("warehouseAdminUsername", /^[a-z_][a-z0-9_]{0,127}$/, "a lower-case user name") ?? "coffeetl_admin";
  const baseCapacity = read.int("warehouseBaseCapacity", 8, 8, 512);
  if (baseCapacity % 8 !== 0) read.problems.push(`coffeetl:warehouseBaseCapacity must be a multiple of 8 (got ${baseCapacity})`);
  const warehouseSubnetText = read.str("warehouseSubnetIds");
  const subnetIds = warehouseSubnetText === undefined ? undefined : parseList(warehouseSubnetText);
  if (warehouseSubnetText !== undefined && (!subnetIds || subnetIds.some((s) => !/^subnet-[0-9a-f]+$/.test(s)))) {
    read.problems.push(`coffeetl:warehouseSubnetIds must be a list of subnet ids (got ${warehouseSubnetText})`);
  }
  return { database, adminUsername, baseCapacity, subnetIds };
}

function parseGrafanaInstanceType(read: ConfigReader): string {
  return read.pattern("grafanaInstanceType", /^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an EC2 instance type such as t4g.small") ?? "t4g.small";
}

/** A client VPC and subnet for Grafana (both or neither); undefined: the stack builds its own. */
function parseNetwork(read: ConfigReader): CoffeetlConfig["network"] {
  const vpcId = read.pattern("vpcId", /^vpc-[0-9a-f]+$/, "a VPC id (vpc-...)");
  const subnetId = read.pattern("subnetId", /^subnet-[0-9a-f]+$/, "a subnet id (subnet-...)");
  if (Boolean(vpcId) !== Boolean(subnetId))
    read.problems.push("set both coffeetl:vpcId and coffeetl:subnetId (the Grafana subnet must be in that VPC), or neither");
  return { vpcId, subnetId };
}

/** Least privilege needs to know the warehouse: an external one must be named, with its identity. */
function checkExternalWarehouse(
  read: ConfigReader,
  warehouse: WarehouseMode,
  { clusterIdentifier, workgroupName, dbUser, database, secretArn }: RedshiftScope,
): void {
  if (warehouse !== "external") return;
  const { problems } = read;
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

/** The load queue's batching and receives, with the load's timeout (read first, as it always was). */
function parseLoadQueue(read: ConfigReader): { loadTimeoutSeconds: number; loadQueue: LoadQueueSettings } {
  const loadTimeoutSeconds = read.int("loadTimeoutSeconds", 600, 10, 900);
  const batchSize = read.int("loadBatchSize", 100, 1, 10000);
  // Issue 23: a lone file's manifest waits the whole window; a burst fills its batches while both
  // loads run, so it needs none. 1 s is the least AWS allows with batches of more than 10.
  const batchingWindowSeconds = read.int("loadBatchingWindowSeconds", 1, 0, 300);
  // AWS rejects an SQS mapping with more than 10 messages per batch and no batching window.
  if (batchSize > 10 && batchingWindowSeconds < 1)
    read.problems.push(`coffeetl:loadBatchSize ${batchSize} (above 10) needs coffeetl:loadBatchingWindowSeconds of at least 1`);
  const loadQueue: LoadQueueSettings = {
    batchSize,
    batchingWindowSeconds,
    maxConcurrency: read.int("loadMaxConcurrency", 2, 2, 1000),
    maxReceives: read.int("loadMaxReceives", 3, 1, 1000),
    manifestsPerTransaction: read.int("loadManifestsPerTransaction", MANIFESTS_PER_TRANSACTION, 1, 200),
    pollMaxMs: read.int("loadPollMaxMs", 1_000, 100, 30_000),
  };
  return { loadTimeoutSeconds, loadQueue };
}

function parseUploaders(read: ConfigReader, stack: string): string[] {
  const { problems } = read;
  const uploaderText = read.str("uploaders");
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
  return uploaders;
}

/** Per-uploader branch names: `pulumi config set --path 'uploaderBranches.north[0]' Leeds`. */
function parseUploaderBranches(read: ConfigReader, uploaders: string[]): Record<string, string[]> {
  const { problems } = read;
  const uploaderBranches: Record<string, string[]> = {};
  const branchesText = read.str("uploaderBranches");
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
  return uploaderBranches;
}

function parseUploadCheck(read: ConfigReader, uploaders: string[]): UploadCheckSettings | undefined {
  const deadline = read.pattern("uploadDeadline", /^([01]\d|2[0-3]):[0-5]\d$/, "a local time HH:MM, e.g. 10:00");
  const timeZone = read.pattern("uploadDeadlineTimeZone", /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/, "an IANA time zone such as Europe/London") ?? "Europe/London";
  if (deadline && uploaders.length === 0) read.problems.push("coffeetl:uploadDeadline checks the uploaders' prefixes: list them in coffeetl:uploaders");
  return deadline ? { deadline, timeZone } : undefined;
}

function parseAlarms(read: ConfigReader): AlarmSettings {
  return {
    lambdaErrors: read.threshold("alarmLambdaErrors", 0, 0, 100000),
    lambdaThrottles: read.threshold("alarmLambdaThrottles", 0, 0, 100000),
    asyncEventAgeSeconds: read.threshold("alarmAsyncEventAgeSeconds", 1800, 60, 21600),
    deadLetterMessages: read.threshold("alarmDeadLetterMessages", 0, 0, 100000),
    queueAgeSeconds: read.threshold("alarmQueueAgeSeconds", 3600, 60, 1209600),
  };
}

/** The created warehouse's ceiling and usage limit; refused for a warehouse the stack does not create. */
function parseServerlessLimits(
  read: ConfigReader,
  warehouse: WarehouseMode,
  baseCapacity: number,
): Pick<ServerlessWarehouseSettings, "maxCapacity" | "usageLimit"> {
  const { problems } = read;
  const maxCapacity = read.int("warehouseMaxCapacity", Math.max(32, baseCapacity), 8, 5632);
  if (maxCapacity % 8 !== 0 || maxCapacity < baseCapacity) {
    problems.push(`coffeetl:warehouseMaxCapacity must be a multiple of 8 and at least warehouseBaseCapacity ${baseCapacity} (got ${maxCapacity})`);
  }
  // A small chain's day: its loads and dashboards refreshing hourly use 2-4 RPU-hours at base capacity 8
  // (a query bills at least 60 s at the whole workgroup's RPUs); the cap stops a runaway at ~$3 a day
  // (us-east-1 list price $0.375 per RPU-hour), the alarm warns at 75% of it (docs/deploy.md, cost).
  const usageLimitRpuHours = read.threshold("warehouseUsageLimitRpuHours", DEFAULT_USAGE_LIMIT_RPU_HOURS, 1, 1000000);
  const period = read.str("warehouseUsageLimitPeriod") ?? "daily";
  if (!["daily", "weekly", "monthly"].includes(period)) problems.push(`coffeetl:warehouseUsageLimitPeriod must be daily, weekly or monthly (got "${period}")`);
  const breachAction = read.str("warehouseUsageLimitAction") ?? "deactivate";
  if (!["log", "emit-metric", "deactivate"].includes(breachAction)) {
    problems.push(`coffeetl:warehouseUsageLimitAction must be log, emit-metric or deactivate (got "${breachAction}")`);
  }
  if (warehouse !== "serverless") {
    for (const key of ["warehouseMaxCapacity", "warehouseUsageLimitRpuHours", "warehouseUsageLimitPeriod", "warehouseUsageLimitAction"] as const) {
      if (read.has(key)) problems.push(`coffeetl:${key} applies only to a warehouse this stack creates (coffeetl:warehouse serverless)`);
    }
  }
  const usageLimit =
    usageLimitRpuHours === undefined
      ? undefined
      : { rpuHours: usageLimitRpuHours, period: period as "daily" | "weekly" | "monthly", breachAction: breachAction as "log" | "emit-metric" | "deactivate" };
  return { maxCapacity, usageLimit };
}

/** Log retention and level, and where alarms are e-mailed. */
function parseLogs(read: ConfigReader): Pick<CoffeetlConfig, "logRetentionDays" | "logLevel" | "alarmEmail"> {
  const logRetentionDays = read.int("logRetentionDays", 30, 1, 3653);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    read.problems.push(`coffeetl:logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(", ")} (got ${logRetentionDays})`);
  }
  const logLevel = (read.str("logLevel") ?? "INFO").toUpperCase();
  if (!["DEBUG", "INFO", "WARN", "ERROR"].includes(logLevel)) read.problems.push(`coffeetl:logLevel must be DEBUG, INFO, WARN or ERROR (got "${logLevel}")`);
  const alarmEmail = read.pattern("alarmEmail", /^[^@\s]+@[^@\s]+\.[^@\s]+$/, "an e-mail address");
  return { logRetentionDays, logLevel: logLevel as LogLevel, alarmEmail };
}

/** Grafana (infra/grafana-config.ts): viewers, reader user, data volume, front; and whether the host has a public address. */
function parseGrafanaHost(read: ConfigReader, network: CoffeetlConfig["network"]): GrafanaExtraSettings & { associatePublicIp: boolean } {
  const grafanaExtra = parseGrafanaConfig(read.raw, read.problems);
  const associatePublicIp = read.bool("grafanaPublicIp", true);
  if (!associatePublicIp && !network.vpcId) {
    read.problems.push(
      "coffeetl:grafanaPublicIp is false, but the stack's own VPC has no NAT gateway: the host could not install Grafana and CloudFront could not reach it. " +
        "Keep the default (a public address that admits only CloudFront), or give coffeetl:vpcId and coffeetl:subnetId of a private subnet whose route table has a NAT gateway",
    );
  }
  return { associatePublicIp, ...grafanaExtra };
}

/** The host's root volume, container image and plugins (pinned). */
function parseGrafanaImage(read: ConfigReader): Pick<GrafanaHostSettings, "volumeSizeGb" | "image" | "plugins"> {
  return {
    volumeSizeGb: read.int("grafanaVolumeSizeGb", 20, 8, 1024),
    image: read.pattern("grafanaImage", /^[\w./-]+(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$/, "a container image reference") ?? DEFAULT_GRAFANA_IMAGE,
    plugins: pinnedPlugins(
      read.pattern("grafanaPlugins", /^[\w.@,-]+$/, "a comma-separated list of Grafana plugin ids"),
      read.str("grafanaRedshiftPluginVersion"),
      read.problems,
    ),
  };
}

/** Both functions' memory, timeout and concurrency, and the extract-transform's retries of S3 events. */
function parseFunctions(
  read: ConfigReader,
  loadTimeoutSeconds: number,
): Pick<CoffeetlConfig, "extractTransform" | "load" | "maxRetryAttempts" | "maxEventAgeSeconds"> {
  return {
    extractTransform: {
      memoryMb: read.int("extractTransformMemoryMb", 1024, 128, 10240),
      timeoutSeconds: read.int("extractTransformTimeoutSeconds", 300, 10, 900),
      reservedConcurrency: read.optionalInt("extractTransformReservedConcurrency", 1, 1000),
    },
    load: {
      memoryMb: read.int("loadMemoryMb", 256, 128, 10240),
      timeoutSeconds: loadTimeoutSeconds,
      // Unreserved by default: the queue mapping's maximum concurrency bounds the loads instead, and a
      // reservation fails on accounts with the default concurrency limit of 10.
      reservedConcurrency: read.optionalInt("loadReservedConcurrency", 1, 100),
    },
    maxRetryAttempts: read.int("maxRetryAttempts", 2, 0, 2),
    maxEventAgeSeconds: read.int("maxEventAgeSeconds", 21600, 60, 21600),
  };
}

/** How long the buckets keep objects, and whether a destroy may empty them. */
function parseStorage(read: ConfigReader): Pick<CoffeetlConfig, "rawNoncurrentVersionExpirationDays" | "transformedExpirationDays" | "forceDestroy"> {
  return {
    rawNoncurrentVersionExpirationDays: read.int("rawNoncurrentVersionExpirationDays", 90, 1, 3650),
    transformedExpirationDays: read.int("transformedExpirationDays", 30, 1, 3650),
    forceDestroy: read.bool("forceDestroy", false),
  };
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
