// `coffeetl verify --outputs outputs.json`: what an operator runs right after `pulumi up` (the last
// step of docs/deploy.md), and any morning. Each part of the deployed pipeline is checked live and
// printed as one line, ✔ or ✘ with the fix:
// - the raw bucket takes a canary file under a reserved prefix, which is transformed and loaded
//   within a bound (its file_outcomes row, read through the Data API), then removed from the
//   warehouse and both buckets, so no dashboard keeps it;
// - the Grafana reader database user may SELECT every CoffeETL table;
// - Grafana answers /api/health, and a viewer login works (its password read from its parameter);
// - no alarm of the stack is in ALARM; both dead-letter queues are empty.
// Exit 0 only when every check passed; `--json` for machines.
import { randomBytes } from "node:crypto";
import { text } from "node:stream/consumers";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { RedshiftDataClient } from "@aws-sdk/client-redshift-data";
import { DeleteObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import { RedshiftWarehouse } from "../functions/aws/redshift-warehouse.js";
import { readWarehouseSettings, readParameter } from "../functions/aws/ssm.js";
import { generateSample } from "../functions/core/sample.js";
import { DEFAULT_READER_DB_USER, readerTables } from "../functions/warehouse/reader-role.js";
import type { CommandContext } from "./args.js";
import { UsageError } from "./errors.js";
import { outputsObject, readOutputsText, regionOf, requireOutputs } from "./outputs.js";
import { line, warn } from "./output.js";

/** Where canaries go in the raw bucket; nothing else may use it (docs/deploy.md). */
export const CANARY_PREFIX = "_coffeetl-canary/";
/** The canary's branch: its rows, if a clean-up ever failed, are recognisable at a glance. */
const CANARY_BRANCH = "CoffeETL canary";

interface VerifyOutputs {
  rawBucketName: string;
  transformedBucketName: string;
  deadLetterQueueUrl: string;
  loadDeadLetterQueueUrl: string;
  warehouseParameterName: string;
  grafanaUrl: string;
  grafanaViewerPasswordParameters: string[];
  alarmTopicArn?: string;
}

function parseVerifyOutputs(json: string, where: string): VerifyOutputs {
  const value = outputsObject(json, where);
  const need = ["rawBucketName", "transformedBucketName", "deadLetterQueueUrl", "loadDeadLetterQueueUrl", "warehouseParameterName", "grafanaUrl"] as const;
  requireOutputs(value, need, where);
  const viewers = value.grafanaViewerPasswordParameters;
  return {
    ...(Object.fromEntries(need.map((k) => [k, value[k] as string])) as Pick<VerifyOutputs, (typeof need)[number]>),
    grafanaViewerPasswordParameters: Array.isArray(viewers) ? viewers.filter((v): v is string => typeof v === "string") : [],
    ...(typeof value.alarmTopicArn === "string" ? { alarmTopicArn: value.alarmTopicArn } : {}),
  };
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do when it failed. */
  fix?: string;
}

export interface VerifyClients {
  s3: S3Client;
  sqs: SQSClient;
  ssm: SSMClient;
  cloudwatch: CloudWatchClient;
  redshift: RedshiftDataClient;
}

interface VerifyOptions {
  /** How long the canary may take to be transformed and loaded (ms). */
  timeoutMs: number;
  /** Between two looks at file_outcomes (ms). */
  pollMs?: number;
  /** The Grafana reader's database user. */
  readerDbUser?: string;
  /** Called while waiting for the canary, with the time waited so far. */
  onWait?(elapsedMs: number, timeoutMs: number): void;
  onCheck?(check: Check): void;
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
const message = (error: unknown) => {
  const e = error as Error;
  return `${e?.name && e.name !== "Error" ? `${e.name}: ` : ""}${e?.message ?? String(error)}`;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const truthy = (v: unknown) => v === true || v === "t" || v === "true" || v === 1 || v === "1";

export async function verify(clients: VerifyClients, outputs: VerifyOutputs, options: VerifyOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (check: Check) => {
    checks.push(check);
    options.onCheck?.(check);
  };

  // The warehouse, as the load reaches it (the connection parameter and the Data API).
  let warehouse: RedshiftWarehouse | undefined;
  let warehouseError: string | undefined;
  try {
    warehouse = new RedshiftWarehouse(clients.redshift, await readWarehouseSettings(clients.ssm, outputs.warehouseParameterName), {
      remainingTimeMs: () => 600_000,
    });
  } catch (error) {
    warehouseError = `the warehouse connection parameter ${outputs.warehouseParameterName}: ${message(error)}`;
  }

  // 1-3. The canary: in, through, and out again.
  const key = `${CANARY_PREFIX}${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(4).toString("hex")}.csv`;
  let uploaded = false;
  try {
    const body = await text(generateSample({ rows: 3, branch: CANARY_BRANCH, seed: key, date: new Date().toISOString().slice(0, 10) }));
    await clients.s3.send(new PutObjectCommand({ Bucket: outputs.rawBucketName, Key: key, Body: body, ContentType: "text/csv" }));
    uploaded = true;
    add({ name: "raw bucket takes an upload", ok: true, detail: `s3://${outputs.rawBucketName}/${key}` });
  } catch (error) {
    add({
      name: "raw bucket takes an upload",
      ok: false,
      detail: message(error),
      fix: `check that bucket ${outputs.rawBucketName} exists and that your AWS login may s3:PutObject under ${CANARY_PREFIX}`,
    });
  }
  if (uploaded) {
    if (!warehouse) {
      add({ name: "canary transformed and loaded", ok: false, detail: warehouseError!, fix: 'see docs/deploy.md, "The warehouse connection parameter"' });
    } else {
      const started = Date.now();
      let outcome: { outcome?: unknown; reason?: unknown } | undefined;
      let lastError: string | undefined;
      for (;;) {
        try {
          const rows = await warehouse.query<{ outcome?: unknown; reason?: unknown }>(
            `SELECT outcome, reason FROM file_outcomes WHERE source_key = ${quote(key)} ORDER BY recorded_at DESC LIMIT 1`,
          );
          outcome = rows[0];
          lastError = undefined;
        } catch (error) {
          lastError = message(error);
        }
        const waited = Date.now() - started;
        if (outcome || waited >= options.timeoutMs) break;
        options.onWait?.(waited, options.timeoutMs);
        await sleep(Math.min(options.pollMs ?? 5000, Math.max(0, options.timeoutMs - waited)));
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      if (outcome?.outcome === "loaded" || outcome?.outcome === "already_loaded") {
        add({ name: "canary transformed and loaded", ok: true, detail: `in ${seconds} s (file_outcomes: ${String(outcome.outcome)})` });
      } else {
        add({
          name: "canary transformed and loaded",
          ok: false,
          detail: outcome
            ? `file_outcomes says ${String(outcome.outcome)}: ${String(outcome.reason ?? "")}`
            : `no file_outcomes row after ${seconds} s${lastError ? ` (last query: ${lastError})` : ""}`,
          fix:
            "look at the extract-transform and load functions' logs (aws logs tail /aws/lambda/<function> --since 15m), " +
            "`coffeetl redrive --outputs outputs.json --dry-run` for parked work, and the stack's alarms",
        });
      }
    }
    add(await removeCanary(clients, outputs, warehouse, key));
  }

  // 4. The reader may SELECT every table.
  const reader = options.readerDbUser ?? DEFAULT_READER_DB_USER;
  if (!warehouse) {
    add({ name: "reader can SELECT every table", ok: false, detail: warehouseError!, fix: 'see docs/deploy.md, "The warehouse connection parameter"' });
  } else {
    try {
      const tables = readerTables();
      const rows = await warehouse.query<{ table_name: string; ok: unknown }>(
        tables.map((t) => `SELECT ${quote(t)} AS table_name, has_table_privilege(${quote(reader)}, ${quote(t)}, 'SELECT') AS ok`).join(" UNION ALL "),
      );
      const missing = tables.filter((t) => !rows.some((r) => r.table_name === t && truthy(r.ok)));
      add(
        missing.length
          ? {
              name: "reader can SELECT every table",
              ok: false,
              detail: `${reader} may not SELECT ${missing.join(", ")}`,
              fix: `restart the Grafana host (it grants the reader role at start), or as the warehouse admin: GRANT SELECT ON ${missing.join(", ")} TO ${reader}`,
            }
          : { name: "reader can SELECT every table", ok: true, detail: `${reader}: ${tables.length} tables` },
      );
    } catch (error) {
      add({
        name: "reader can SELECT every table",
        ok: false,
        detail: message(error),
        fix: `check that database user ${reader} exists (coffeetl:grafanaReaderDbUser)`,
      });
    }
  }

  // 5-6. Grafana.
  const base = outputs.grafanaUrl.replace(/\/+$/, "");
  let healthy = false;
  try {
    const response = await fetch(`${base}/api/health`, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json().catch(() => ({}))) as { database?: string };
    healthy = response.ok && body.database === "ok";
    add(
      healthy
        ? { name: "Grafana answers /api/health", ok: true, detail: base }
        : {
            name: "Grafana answers /api/health",
            ok: false,
            detail: `HTTP ${response.status}${body.database ? `, database ${body.database}` : ""}`,
            fix: "look at the host's grafana service (docs/deploy.md, Grafana)",
          },
    );
  } catch (error) {
    add({
      name: "Grafana answers /api/health",
      ok: false,
      detail: `${base}: ${message((error as Error).cause ?? error)}`,
      fix: "is the instance running (aws ec2 describe-instances)? is your address in coffeetl:grafanaAllowedCidrs?",
    });
  }
  const viewerParameter = outputs.grafanaViewerPasswordParameters[0];
  if (!viewerParameter) {
    add({ name: "Grafana viewer login", ok: true, detail: "no viewer logins configured (coffeetl:grafanaViewers)" });
  } else {
    const login = viewerParameter.split("/").pop()!;
    try {
      const password = await readParameter(clients.ssm, viewerParameter);
      const response = await fetch(`${base}/api/user`, {
        headers: { authorization: `Basic ${Buffer.from(`${login}:${password}`).toString("base64")}` },
        signal: AbortSignal.timeout(10_000),
      });
      add(
        response.ok
          ? { name: "Grafana viewer login", ok: true, detail: login }
          : {
              name: "Grafana viewer login",
              ok: false,
              detail: `${login}: refused (HTTP ${response.status})`,
              fix: `the host sets viewer passwords from ${viewerParameter} when it starts: restart its grafana service`,
            },
      );
    } catch (error) {
      add({
        name: "Grafana viewer login",
        ok: false,
        detail: `${login}: ${message((error as Error).cause ?? error)}`,
        fix: healthy ? `check parameter ${viewerParameter}` : "fix Grafana's health first",
      });
    }
  }

  // 7. Alarms.
  try {
    const alarming: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await clients.cloudwatch.send(new DescribeAlarmsCommand({ StateValue: "ALARM", ...(NextToken ? { NextToken } : {}) }));
      for (const a of page.MetricAlarms ?? []) {
        if (!outputs.alarmTopicArn || a.AlarmActions?.includes(outputs.alarmTopicArn)) alarming.push(a.AlarmName ?? "?");
      }
      NextToken = page.NextToken;
    } while (NextToken);
    add(
      alarming.length
        ? {
            name: "alarms not in ALARM",
            ok: false,
            detail: alarming.join(", "),
            fix: "read each alarm's description (aws cloudwatch describe-alarms --alarm-names ...): it says what to do",
          }
        : { name: "alarms not in ALARM", ok: true, detail: "none in ALARM" },
    );
  } catch (error) {
    add({ name: "alarms not in ALARM", ok: false, detail: message(error), fix: "your AWS login needs cloudwatch:DescribeAlarms" });
  }

  // 8. Dead-letter queues.
  try {
    const counts = await Promise.all(
      [outputs.deadLetterQueueUrl, outputs.loadDeadLetterQueueUrl].map(async (QueueUrl) => {
        const a =
          (
            await clients.sqs.send(
              new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
            )
          ).Attributes ?? {};
        return {
          name: QueueUrl.split("/").pop()!,
          messages: Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
        };
      }),
    );
    const full = counts.filter((c) => c.messages > 0);
    add(
      full.length
        ? {
            name: "dead-letter queues empty",
            ok: false,
            detail: full.map((c) => `${c.name}: ${c.messages} message(s)`).join(", "),
            fix: "find the reason (coffeetl status --failed, the functions' logs), fix it, then `coffeetl redrive --outputs outputs.json`",
          }
        : { name: "dead-letter queues empty", ok: true, detail: counts.map((c) => c.name).join(", ") },
    );
  } catch (error) {
    add({ name: "dead-letter queues empty", ok: false, detail: message(error), fix: "your AWS login needs sqs:GetQueueAttributes on both queues" });
  }
  return checks;
}

/** Removes the canary from the warehouse (its sales, items, load and outcome rows) and both buckets. */
async function removeCanary(clients: VerifyClients, outputs: VerifyOutputs, warehouse: RedshiftWarehouse | undefined, key: string): Promise<Check> {
  const problems: string[] = [];
  if (warehouse) {
    const k = quote(key);
    const statements = [
      `DELETE FROM transaction_items WHERE transaction_id IN (SELECT transaction_id FROM transactions WHERE source_key = ${k})`,
      `DELETE FROM load_sales WHERE load_id IN (SELECT load_id FROM loads WHERE source_key = ${k})`,
      `DELETE FROM transactions WHERE source_key = ${k}`,
      `DELETE FROM loads WHERE source_key = ${k}`,
      `DELETE FROM file_outcomes WHERE source_key = ${k}`,
      `DELETE FROM branches WHERE branch_name = ${quote(CANARY_BRANCH)} AND branch_id NOT IN (SELECT branch_id FROM transactions)`,
    ];
    for (const sql of statements) {
      try {
        await warehouse.query(sql);
      } catch (error) {
        problems.push(`${sql.slice(0, 40)}...: ${message(error)}`);
        break;
      }
    }
  }
  try {
    const versions = await clients.s3.send(new ListObjectVersionsCommand({ Bucket: outputs.rawBucketName, Prefix: key }));
    for (const v of [...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])].filter((v) => v.Key === key)) {
      await clients.s3.send(new DeleteObjectCommand({ Bucket: outputs.rawBucketName, Key: key, ...(v.VersionId ? { VersionId: v.VersionId } : {}) }));
    }
    const prefix = key.replace(/\.csv$/, "/");
    const listed = await clients.s3.send(new ListObjectsV2Command({ Bucket: outputs.transformedBucketName, Prefix: prefix }));
    for (const o of listed.Contents ?? []) await clients.s3.send(new DeleteObjectCommand({ Bucket: outputs.transformedBucketName, Key: o.Key! }));
  } catch (error) {
    problems.push(`buckets: ${message(error)}`);
  }
  return problems.length
    ? {
        name: "canary removed",
        ok: false,
        detail: problems.join("; "),
        fix: `remove ${key} by hand: its rows (source_key) from the warehouse, its objects from both buckets (aws s3 rm --recursive)`,
      }
    : { name: "canary removed", ok: true, detail: "from the warehouse and both buckets" };
}

export async function verifyCommand(ctx: CommandContext, clients?: VerifyClients): Promise<number> {
  const file = ctx.values.outputs as string | undefined;
  if (!file)
    throw new UsageError("verify needs --outputs FILE: the stack outputs, from `pulumi stack output --json > outputs.json` (- reads standard input)", "verify");
  const outputs = parseVerifyOutputs(await readOutputsText(file), file === "-" ? "standard input" : file);
  const timeoutText = (ctx.values.timeout as string | undefined) ?? "300";
  const timeout = Number(timeoutText);
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 3600)
    throw new UsageError(`--timeout must be whole seconds from 1 to 3600, got ${JSON.stringify(timeoutText)}`, "verify");
  const region = (ctx.values.region as string | undefined) ?? process.env.AWS_REGION ?? regionOf(outputs.deadLetterQueueUrl);
  if (!region) throw new UsageError("verify: no AWS region: give --region or set AWS_REGION", "verify");
  clients ??= {
    s3: new S3Client({ region }),
    sqs: new SQSClient({ region }),
    ssm: new SSMClient({ region }),
    cloudwatch: new CloudWatchClient({ region }),
    redshift: new RedshiftDataClient({ region }),
  };
  const asJson = ctx.values.json === true;
  const tty = process.stderr.isTTY;
  let waiting = false;
  const checks = await verify(clients, outputs, {
    timeoutMs: timeout * 1000,
    ...(ctx.values.reader ? { readerDbUser: ctx.values.reader as string } : {}),
    onWait(elapsed, bound) {
      // One progress line: rewritten on a terminal, printed once elsewhere.
      const text = `… waiting for the canary to be transformed and loaded (${Math.round(elapsed / 1000)} s of at most ${bound / 1000} s)`;
      if (tty) process.stderr.write(`\r\x1b[K${text}`);
      else if (!waiting) warn(text);
      waiting = true;
    },
    onCheck(check) {
      if (waiting && tty) process.stderr.write("\r\x1b[K");
      waiting = false;
      if (!asJson) line(check.ok ? `✔ ${check.name}: ${check.detail}` : `✘ ${check.name}: ${check.detail}\n    fix: ${check.fix ?? "-"}`);
    },
  });
  const failed = checks.filter((c) => !c.ok).length;
  if (asJson) line(JSON.stringify({ ok: failed === 0, checks }, null, 2));
  else line(failed ? `${failed} of ${checks.length} checks failed.` : `All ${checks.length} checks passed.`);
  return failed ? 1 : 0;
}
