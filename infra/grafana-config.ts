// The Grafana part of the stack configuration (called by infra/config.ts `parseConfig`): client
// viewer logins, the provisioned reader's database user, the data volume, and the front. Pure.
import { DEFAULT_READER_DB_USER } from "../functions/warehouse/reader-role.js";

export interface GrafanaViewer {
  /** Grafana login; also the last part of its password parameter's name. */
  login: string;
  email: string;
  name?: string;
}

export interface GrafanaExtraSettings {
  viewers: GrafanaViewer[];
  /** Provisioned clusters: Grafana's own read-only database user (never the loader's). */
  readerDbUser: string;
  /** Grafana's database, plugins and sessions: a volume that outlives the instance. */
  dataVolumeSizeGb: number;
  /**
   * How often, at most, a dashboard refreshes itself (a Grafana duration): the saved refresh of every
   * dashboard that queries the warehouse, and Grafana's minimum refresh interval for any viewer.
   */
  refreshInterval: string;
}

/** The host's own settings, as the stack configuration gives them (infra/config.ts). */
export interface GrafanaHostSettings extends GrafanaExtraSettings {
  /** Who may reach Grafana: enforced at the front (WAF), never as a security group rule. */
  allowedCidrs: string[];
  instanceType: string;
  /** Architecture the AMI must match, derived from the instance type. */
  architecture: "arm64" | "x86_64";
  volumeSizeGb: number;
  image: string;
  plugins: string;
  associatePublicIp: boolean;
}

/**
 * Hourly: each refresh of a warehouse panel wakes a Serverless workgroup, billed at least 60 s at its
 * whole base capacity (docs/deploy.md, cost). A 5-minute refresh in one open tab is ~$430 a month.
 */
const DEFAULT_REFRESH_INTERVAL = "1h";
const DURATION = /^(\d+)(s|m|h|d)$/;
/** A Grafana duration in seconds (`30m`, `1h`, `1d`); undefined when it is not one. */
export function durationSeconds(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  return m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"] : undefined;
}

export const GRAFANA_CONFIG_KEYS = [
  "grafanaViewers",
  "grafanaReaderDbUser",
  "grafanaDataVolumeSizeGb",
  "grafanaDomain",
  "grafanaCertificateArn",
  "grafanaRedshiftPluginVersion",
  "grafanaRefreshInterval",
] as const;
export type GrafanaConfigKey = (typeof GRAFANA_CONFIG_KEYS)[number];

/** The warehouse's data source plugin, pinned: Grafana installs exactly this version and never updates it. */
const REDSHIFT_PLUGIN = "grafana-redshift-datasource";
const DEFAULT_REDSHIFT_PLUGIN_VERSION = "2.5.8";
export const DEFAULT_GRAFANA_PLUGINS = `${REDSHIFT_PLUGIN}@${DEFAULT_REDSHIFT_PLUGIN_VERSION}`;
const PLUGIN_VERSION = /^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/;

/**
 * coffeetl:grafanaPlugins (ids, each `id@version`) with the Redshift plugin at
 * coffeetl:grafanaRedshiftPluginVersion unless the list pins it itself. An unpinned plugin is refused:
 * Grafana would install whatever is newest at each start.
 */
export function pinnedPlugins(listText: string | undefined, versionText: string | undefined, problems: string[]): string {
  const version = versionText?.trim() || DEFAULT_REDSHIFT_PLUGIN_VERSION;
  if (!PLUGIN_VERSION.test(version))
    problems.push(`coffeetl:grafanaRedshiftPluginVersion must be a version such as ${DEFAULT_REDSHIFT_PLUGIN_VERSION} (got "${version}")`);
  const ids = (listText ?? REDSHIFT_PLUGIN)
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const out = ids.map((id) => {
    if (id.includes("@")) {
      if (!PLUGIN_VERSION.test(id.slice(id.indexOf("@") + 1)))
        problems.push(`coffeetl:grafanaPlugins: "${id}" must be id@version, e.g. ${DEFAULT_GRAFANA_PLUGINS}`);
      return id;
    }
    if (id === REDSHIFT_PLUGIN) return `${id}@${version}`;
    problems.push(`coffeetl:grafanaPlugins: pin "${id}" to a version (${id}@x.y.z), or Grafana installs whatever is newest at each start`);
    return id;
  });
  if (!out.some((p) => p === REDSHIFT_PLUGIN || p.startsWith(`${REDSHIFT_PLUGIN}@`)))
    problems.push(`coffeetl:grafanaPlugins must include ${REDSHIFT_PLUGIN} (the warehouse's data source)`);
  return out.join(",");
}

const LOGIN = /^[a-z0-9][a-z0-9._-]{0,39}$/;
const EMAIL = /^[^@\s"]+@[^@\s"]+\.[^@\s"]+$/;

function parseViewers(text: string, problems: string[]): GrafanaViewer[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    problems.push(
      `coffeetl:grafanaViewers must be a list of {login, email, name}, e.g. \`pulumi config set --path 'grafanaViewers[0].login' jo\` (got text that is not a list)`,
    );
    return [];
  }
  if (!Array.isArray(value)) {
    problems.push("coffeetl:grafanaViewers must be a list of {login, email, name}");
    return [];
  }
  const viewers: GrafanaViewer[] = [];
  const seen = new Set<string>();
  // Grafana refuses a second account with an e-mail already taken (case-insensitively): the sync would fail every minute.
  const emails = new Map<string, number>();
  value.forEach((v: unknown, i) => {
    const at = `coffeetl:grafanaViewers[${i}]`;
    if (!v || typeof v !== "object" || Array.isArray(v)) return problems.push(`${at} must be an object {login, email, name}`);
    const { login, email, name } = v as Record<string, unknown>;
    if (typeof login !== "string" || !LOGIN.test(login))
      return problems.push(`${at}.login must be 1-40 of a-z, 0-9, ".", "_", "-" (got ${JSON.stringify(login)})`);
    if (login === "admin") return problems.push(`${at}.login "admin" is Grafana's administrator: choose another login`);
    if (seen.has(login)) return problems.push(`${at}.login "${login}" is listed twice`);
    if (typeof email !== "string" || !EMAIL.test(email)) return problems.push(`${at}.email must be an e-mail address (got ${JSON.stringify(email)})`);
    const taken = emails.get(email.toLowerCase());
    if (taken !== undefined)
      return problems.push(
        `${at}.email "${email}" is also coffeetl:grafanaViewers[${taken}]'s: Grafana allows one account per e-mail address; give each viewer their own`,
      );
    if (name !== undefined && (typeof name !== "string" || name.length > 100 || /[\n\r"]/.test(name)))
      return problems.push(`${at}.name must be text of at most 100 characters`);
    seen.add(login);
    emails.set(email.toLowerCase(), i);
    viewers.push({ login, email, ...(typeof name === "string" && name.trim() ? { name: name.trim() } : {}) });
  });
  return viewers;
}

/** Validates the Grafana keys, adding each problem to `problems`. */
export function parseGrafanaConfig(raw: Partial<Record<GrafanaConfigKey, string>>, problems: string[]): GrafanaExtraSettings {
  const str = (key: GrafanaConfigKey) => (raw[key] !== undefined && raw[key]!.trim() !== "" ? raw[key]!.trim() : undefined);
  if (str("grafanaDomain") || str("grafanaCertificateArn")) {
    problems.push(
      "coffeetl:grafanaDomain / coffeetl:grafanaCertificateArn: a load balancer with your own domain and ACM certificate is not supported yet; " +
        "remove them: Grafana is served over HTTPS at the CloudFront address in the grafanaUrl output (no domain needed)",
    );
  }
  const viewersText = str("grafanaViewers");
  const viewers = viewersText === undefined ? [] : parseViewers(viewersText, problems);
  const readerDbUser = str("grafanaReaderDbUser") ?? DEFAULT_READER_DB_USER;
  if (!/^[a-z_][a-z0-9_]{0,126}$/.test(readerDbUser))
    problems.push(`coffeetl:grafanaReaderDbUser must be a lower-case database user name (got "${readerDbUser}")`);
  const sizeText = str("grafanaDataVolumeSizeGb");
  let dataVolumeSizeGb = 10;
  if (sizeText !== undefined) {
    const n = Number(sizeText);
    if (!Number.isInteger(n) || n < 1 || n > 1024) problems.push(`coffeetl:grafanaDataVolumeSizeGb must be an integer from 1 to 1024 (got "${sizeText}")`);
    else dataVolumeSizeGb = n;
  }
  const refreshInterval = str("grafanaRefreshInterval") ?? DEFAULT_REFRESH_INTERVAL;
  const refreshSeconds = durationSeconds(refreshInterval);
  if (refreshSeconds === undefined || refreshSeconds < 60) {
    problems.push(`coffeetl:grafanaRefreshInterval must be a Grafana duration of at least 1m, such as 1h, 30m or 1d (got "${refreshInterval}")`);
  }
  return { viewers, readerDbUser, dataVolumeSizeGb, refreshInterval };
}
