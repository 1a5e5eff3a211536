// Typed, validated stack configuration (DESIGN.md section 7). Every `coffeetl:` key is read once,
// here; the rest of the program receives a plain `CoffeetlConfig` object.
//
// `parseConfig` is a pure function over the raw string values (what `pulumi config get` shows), so
// it is unit-tested without a Pulumi engine; `loadConfig` reads the stack's configuration with it.
// Every problem is reported at once, each naming the key and the command that fixes it.
import * as pulumi from "@pulumi/pulumi";
import type { GrafanaHostSettings } from "./grafana.js";
import { GRAFANA_CONFIG_KEYS, parseGrafanaConfig } from "./grafana-config.js";

export const PROJECT = "coffeetl";

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
}

export interface CoffeetlConfig {
  stack: string;
  /** SSM parameter with the warehouse connection JSON (DESIGN.md section 7). */
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
  "rawNoncurrentVersionExpirationDays",
  "transformedExpirationDays",
  "forceDestroy",
  // Grafana (infra/grafana-config.ts)
  ...GRAFANA_CONFIG_KEYS,
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];
export type RawConfig = Partial<Record<ConfigKey, string>>;

export const DEFAULT_GRAFANA_IMAGE = "grafana/grafana:12.4.0";
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
  return stack.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, max).replace(/-+$/, "") || "stack";
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
  return text.split(",").map((x) => x.trim()).filter((x) => x.length > 0);
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
    problems.push("coffeetl:warehouse is serverless: the stack creates the workgroup, so remove coffeetl:redshiftClusterIdentifier/WorkgroupName/DbUser/SecretArn");
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
    serverless: { database: serverlessDatabase, adminUsername, baseCapacity, subnetIds: warehouseSubnetIds },
    redshift: { clusterIdentifier, workgroupName, dbUser, database, secretArn },
    grafana: {
      allowedCidrs,
      allowPublic,
      instanceType,
      architecture: architectureOf(instanceType),
      volumeSizeGb: int("grafanaVolumeSizeGb", 20, 8, 1024),
      image: pattern("grafanaImage", /^[\w./-]+(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$/, "a container image reference") ?? DEFAULT_GRAFANA_IMAGE,
      plugins: pattern("grafanaPlugins", /^[\w.@,-]+$/, "a comma-separated list of Grafana plugin ids") ?? "grafana-redshift-datasource",
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
      timeoutSeconds: int("loadTimeoutSeconds", 600, 10, 900),
      reservedConcurrency: int("loadReservedConcurrency", 2, 1, 100),
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
