// Stack configuration: defaults, validation and clear error messages.
// Run alone: node --import tsx tests/infra-config.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as pulumi from "@pulumi/pulumi";
import { architectureOf, CONFIG_KEYS, ConfigError, loadConfig, parseCidr, parseConfig, type RawConfig } from "../infra/config.js";

const VALID: RawConfig = {
  redshiftParameterName: "/coffeetl/acme-prod/redshift",
  grafanaAllowedCidrs: '["203.0.113.0/24"]',
  redshiftWorkgroupName: "analytics",
};

/** The ConfigError `parseConfig` throws for `raw`. */
function problems(raw: RawConfig, stack = "acme-prod"): string[] {
  try {
    parseConfig(raw, stack);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

test("a client's minimal configuration gets safe defaults", () => {
  const c = parseConfig(VALID, "acme-prod");
  assert.is(c.redshiftParameterName, "/coffeetl/acme-prod/redshift");
  assert.equal(c.grafana.allowedCidrs, ["203.0.113.0/24"]);
  assert.is(c.grafana.allowPublic, false);
  assert.is(c.warehouse, "external");
  assert.equal(c.load, { memoryMb: 256, timeoutSeconds: 600, reservedConcurrency: undefined }, "no reservation: deploys on any account");
  assert.equal(c.loadQueue, { batchSize: 100, batchingWindowSeconds: 1, maxConcurrency: 2, maxReceives: 3, manifestsPerTransaction: 100, pollMaxMs: 1000 });
  assert.equal(c.alarms, { lambdaErrors: 0, lambdaThrottles: 0, asyncEventAgeSeconds: 1800, deadLetterMessages: 0, queueAgeSeconds: 3600 });
  assert.equal(c.uploaders, []);
  assert.is(c.uploadCheck, undefined);
  assert.equal(c.extractTransform, { memoryMb: 1024, timeoutSeconds: 300, reservedConcurrency: undefined });
  assert.is(c.maxRetryAttempts, 2);
  assert.is(c.logRetentionDays, 30);
  assert.is(c.grafana.instanceType, "t4g.small");
  assert.is(c.grafana.architecture, "arm64");
  assert.match(c.grafana.image, /^grafana\/grafana:12\.\d+\.\d+$/);
  assert.is(c.forceDestroy, false);
  assert.is(c.parameterPrefix, "/coffeetl/acme-prod");
  assert.is(c.alarmEmail, undefined);
});

test("missing parameter name: says which key and how to set it", () => {
  const p = problems({ grafanaAllowedCidrs: VALID.grafanaAllowedCidrs, redshiftWorkgroupName: "analytics" });
  assert.is(p.length, 1);
  assert.match(p[0]!, /coffeetl:redshiftParameterName is required/);
  assert.match(p[0]!, /pulumi config set redshiftParameterName/);
});

test("missing CIDRs: required, no open default", () => {
  const p = problems({ redshiftParameterName: "/x", redshiftWorkgroupName: "analytics" });
  assert.is(p.length, 1);
  assert.match(p[0]!, /coffeetl:grafanaAllowedCidrs is required/);
});

test("invalid CIDRs are named", () => {
  for (const bad of ["203.0.113.0", "203.0.113.0/33", "256.1.1.1/32", "203.0.113.7/24", "example.com/24", "2001:db8::/32", "010.0.0.0/8"]) {
    const p = problems({ ...VALID, grafanaAllowedCidrs: JSON.stringify(["198.51.100.0/24", bad]) });
    assert.is(p.length, 1, bad);
    assert.ok(p[0]!.includes(`"${bad}" is not a valid IPv4 CIDR`), p[0]);
  }
});

test("0.0.0.0/0 is refused unless allowPublicGrafana is true", () => {
  const p = problems({ ...VALID, grafanaAllowedCidrs: '["0.0.0.0/0"]' });
  assert.match(p[0]!, /opens Grafana to the whole internet/);
  assert.match(p[0]!, /allowPublicGrafana/);
  const c = parseConfig({ ...VALID, grafanaAllowedCidrs: '["0.0.0.0/0"]', allowPublicGrafana: "true" }, "acme-prod");
  assert.equal(c.grafana.allowedCidrs, ["0.0.0.0/0"]);
});

test("CIDR lists: YAML list (JSON), comma-separated, duplicates removed", () => {
  assert.equal(parseConfig({ ...VALID, grafanaAllowedCidrs: "203.0.113.0/24, 198.51.100.7/32,203.0.113.0/24" }, "s").grafana.allowedCidrs, [
    "203.0.113.0/24",
    "198.51.100.7/32",
  ]);
  assert.equal(parseCidr("10.0.0.0/8"), { address: 10 * 2 ** 24, prefix: 8 });
  assert.is(parseCidr("10.0.0.1/8"), undefined);
});

test("every problem is reported at once", () => {
  const p = problems(
    {
      grafanaAllowedCidrs: '["nope"]',
      logRetentionDays: "45",
      maxRetryAttempts: "5",
      warehouse: "aurora",
      vpcId: "vpc-0abc",
      redshiftWorkgroupName: "analytics",
    },
    "bad stack!",
  );
  assert.is(p.length, 7, p.join("\n"));
  const text = p.join("\n");
  for (const key of ["stack name", "redshiftParameterName", "grafanaAllowedCidrs", "logRetentionDays", "maxRetryAttempts", "coffeetl:warehouse", "subnetId"])
    assert.ok(text.includes(key), key);
  try {
    parseConfig({}, "s");
  } catch (error) {
    assert.match((error as Error).message, /^Invalid coffeetl stack configuration:\n  - /);
  }
});

test("tuning keys and conflicts", () => {
  const c = parseConfig(
    { ...VALID, loadReservedConcurrency: "1", grafanaInstanceType: "t3.small", alarmEmail: "ops@example.com", extractTransformReservedConcurrency: "10" },
    "s",
  );
  assert.is(c.load.reservedConcurrency, 1);
  assert.is(c.grafana.architecture, "x86_64");
  assert.is(c.extractTransform.reservedConcurrency, 10);
  assert.match(problems({ ...VALID, alarmEmail: "ops" })[0]!, /alarmEmail must be an e-mail address/);
  assert.match(problems({ ...VALID, redshiftClusterIdentifier: "c1", redshiftWorkgroupName: "wg1" })[0]!, /only one of/);
  const { redshiftWorkgroupName: _unused, ...noWarehouse } = VALID;
  assert.match(problems({ ...noWarehouse, warehouse: "serverless", redshiftClusterIdentifier: "c1" })[0]!, /stack creates the workgroup/);
  assert.match(problems({ ...noWarehouse, warehouse: "serverless", warehouseBaseCapacity: "12" })[0]!, /multiple of 8/);
  assert.match(problems({ ...VALID, forceDestroy: "yes" })[0]!, /forceDestroy must be true or false/);
  assert.equal(
    [architectureOf("m7gd.large"), architectureOf("c7gn.xlarge"), architectureOf("g5.xlarge"), architectureOf("m7i.large")],
    ["arm64", "arm64", "x86_64", "x86_64"],
  );
});

test("loadConfig reads the stack's coffeetl: keys; the program fails before declaring anything", async () => {
  await pulumi.runtime.setMocks({ newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: () => ({}) }, "coffeetl", "acme-prod", false);
  pulumi.runtime.setAllConfig({
    "coffeetl:redshiftParameterName": "/p",
    "coffeetl:grafanaAllowedCidrs": '["192.0.2.0/24"]',
    "coffeetl:logLevel": "debug",
    "coffeetl:redshiftWorkgroupName": "analytics",
  });
  const c = loadConfig();
  assert.is(c.stack, "acme-prod");
  assert.is(c.logLevel, "DEBUG");
  assert.equal(c.grafana.allowedCidrs, ["192.0.2.0/24"]);
  assert.ok(CONFIG_KEYS.length >= 30);

  pulumi.runtime.setAllConfig({ "coffeetl:grafanaAllowedCidrs": '["0.0.0.0/0"]' });
  try {
    await import("../index.js");
    assert.unreachable("the program should refuse this configuration");
  } catch (error) {
    assert.instance(error, ConfigError);
    assert.match((error as Error).message, /redshiftParameterName is required/);
    assert.match((error as Error).message, /opens Grafana to the whole internet/);
    assert.match((error as Error).message, /name the warehouse so the roles get credentials for it only/);
  }
});

test("an external warehouse must be named, with its identity: refused at preview, saying which key", () => {
  const { redshiftWorkgroupName: _unused, ...bare } = VALID;
  const none = problems(bare);
  assert.is(none.length, 1);
  assert.match(none[0]!, /coffeetl:warehouse is external: name the warehouse/);
  assert.match(none[0]!, /pulumi config set redshiftWorkgroupName/);
  assert.match(none[0]!, /redshiftClusterIdentifier/);
  assert.match(problems({ ...bare, redshiftClusterIdentifier: "acme-dw" })[0]!, /needs the database identity: `pulumi config set redshiftDbUser/);
  assert.match(problems({ ...bare, redshiftClusterIdentifier: "acme-dw", redshiftDbUser: "loader" })[0]!, /needs coffeetl:redshiftDatabase/);
  assert.match(
    problems({
      ...bare,
      redshiftClusterIdentifier: "acme-dw",
      redshiftDbUser: "loader",
      redshiftDatabase: "dw",
      redshiftSecretArn: "arn:aws:secretsmanager:eu-west-2:123456789012:secret:x",
    })[0]!,
    /only one of coffeetl:redshiftDbUser and coffeetl:redshiftSecretArn/,
  );
  assert.match(problems({ ...VALID, redshiftDbUser: "loader" }).join("\n"), /IAM identity/);
  // Accepted shapes.
  const cluster = parseConfig({ ...bare, redshiftClusterIdentifier: "acme-dw", redshiftDbUser: "loader", redshiftDatabase: "dw" }, "s");
  assert.equal(cluster.redshift, { clusterIdentifier: "acme-dw", workgroupName: undefined, dbUser: "loader", database: "dw", secretArn: undefined });
  parseConfig({ ...bare, redshiftClusterIdentifier: "acme-dw", redshiftSecretArn: "arn:aws:secretsmanager:eu-west-2:123456789012:secret:x" }, "s");
  parseConfig({ ...bare, warehouse: "serverless" }, "s");
});

test("load queue keys, uploaders, alarms off by 'off', Serverless limits", () => {
  const c = parseConfig(
    {
      ...VALID,
      loadBatchSize: "500",
      loadBatchingWindowSeconds: "120",
      loadMaxConcurrency: "4",
      loadMaxReceives: "5",
      loadManifestsPerTransaction: "25",
      loadPollMaxMs: "3000",
      uploaders: "leeds, york",
      uploadDeadline: "10:30",
      alarmLambdaThrottles: "off",
      alarmQueueAgeSeconds: "900",
    },
    "s",
  );
  assert.equal(c.loadQueue, { batchSize: 500, batchingWindowSeconds: 120, maxConcurrency: 4, maxReceives: 5, manifestsPerTransaction: 25, pollMaxMs: 3000 });
  assert.equal(c.uploaders, ["leeds", "york"]);
  assert.equal(c.uploadCheck, { deadline: "10:30", timeZone: "Europe/London" });
  assert.equal([c.alarms.lambdaThrottles, c.alarms.queueAgeSeconds, c.alarms.lambdaErrors], [undefined, 900, 0]);
  assert.match(problems({ ...VALID, loadBatchSize: "50", loadBatchingWindowSeconds: "0" })[0]!, /needs coffeetl:loadBatchingWindowSeconds of at least 1/);
  assert.match(problems({ ...VALID, loadMaxConcurrency: "1" })[0]!, /loadMaxConcurrency must be an integer from 2 to 1000/);
  assert.match(problems({ ...VALID, loadPollMaxMs: "50" })[0]!, /loadPollMaxMs must be an integer from 100 to 30000/);
  assert.equal(c.uploaderBranches, {});
  assert.equal(parseConfig({ ...VALID, uploaders: "north,york", uploaderBranches: '{"north":["Leeds"," York "]}' }, "s").uploaderBranches, {
    north: ["Leeds", "York"],
  });
  assert.match(
    problems({ ...VALID, uploaders: "york", uploaderBranches: '{"leeds":["Leeds"]}' })[0]!,
    /uploaderBranches: "leeds" is not in coffeetl:uploaders/,
  );
  assert.match(problems({ ...VALID, uploaders: "york", uploaderBranches: '{"york":[]}' })[0]!, /uploaderBranches\.york must be a non-empty list/);
  assert.match(problems({ ...VALID, uploaders: "york", uploaderBranches: '["York"]' })[0]!, /must map uploader names to lists/);
  assert.match(problems({ ...VALID, uploaders: '["Leeds City"]' })[0]!, /"Leeds City" must be 1-40 of a-z/);
  assert.match(problems({ ...VALID, uploaders: '["york","york"]' })[0]!, /lists a name twice/);
  assert.match(problems({ ...VALID, uploaders: "newcastle-upon-tyne-city-centre" }, "acme-production-eu-west")[0]!, /longer than 64 characters/);
  assert.match(problems({ ...VALID, uploadDeadline: "10:00" })[0]!, /list them in coffeetl:uploaders/);
  assert.match(problems({ ...VALID, uploaders: "york", uploadDeadline: "25:00" })[0]!, /uploadDeadline must be a local time HH:MM/);
  assert.match(problems({ ...VALID, warehouseMaxCapacity: "64" })[0]!, /applies only to a warehouse this stack creates/);
  const { redshiftWorkgroupName: _unused, ...bare } = VALID;
  const s = parseConfig({ ...bare, warehouse: "serverless" }, "s").serverless;
  assert.equal([s.maxCapacity, s.usageLimit], [32, { rpuHours: 8, period: "daily", breachAction: "deactivate" }], "a daily cap that stops queries");
  const off = parseConfig(
    { ...bare, warehouse: "serverless", warehouseUsageLimitRpuHours: "off", warehouseMaxCapacity: "128", warehouseBaseCapacity: "16" },
    "s",
  ).serverless;
  assert.equal([off.maxCapacity, off.baseCapacity, off.usageLimit], [128, 16, undefined]);
  assert.match(
    problems({ ...bare, warehouse: "serverless", warehouseBaseCapacity: "64", warehouseMaxCapacity: "32" })[0]!,
    /at least warehouseBaseCapacity 64/,
  );
  assert.match(problems({ ...bare, warehouse: "serverless", warehouseUsageLimitAction: "stop" })[0]!, /log, emit-metric or deactivate/);
});

test("viewers: one account per e-mail address, refused at preview with the fix", () => {
  const viewers = (...v: [string, string][]) => JSON.stringify(v.map(([login, email]) => ({ login, email })));
  const p = problems({ ...VALID, grafanaViewers: viewers(["jo", "jo@client.example"], ["sam", "Jo@Client.example"]) });
  assert.is(p.length, 1);
  assert.match(p[0]!, /grafanaViewers\[1\]\.email "Jo@Client\.example" is also coffeetl:grafanaViewers\[0\]'s: .*give each viewer their own/);
  assert.equal(parseConfig({ ...VALID, grafanaViewers: viewers(["jo", "jo@client.example"], ["sam", "sam@client.example"]) }, "s").grafana.viewers.length, 2);
});

test("plugins are pinned: the Redshift plugin at its own key's version; an unpinned plugin is refused", () => {
  assert.match(parseConfig(VALID, "s").grafana.plugins, /^grafana-redshift-datasource@\d+\.\d+\.\d+$/);
  assert.is(parseConfig({ ...VALID, grafanaRedshiftPluginVersion: "2.6.0" }, "s").grafana.plugins, "grafana-redshift-datasource@2.6.0");
  assert.is(
    parseConfig({ ...VALID, grafanaPlugins: "grafana-redshift-datasource,grafana-clock-panel@2.1.8" }, "s").grafana.plugins.split(",")[1],
    "grafana-clock-panel@2.1.8",
  );
  assert.match(problems({ ...VALID, grafanaPlugins: "grafana-redshift-datasource,grafana-clock-panel" })[0]!, /pin "grafana-clock-panel" to a version/);
  assert.match(problems({ ...VALID, grafanaRedshiftPluginVersion: "latest" })[0]!, /grafanaRedshiftPluginVersion must be a version/);
  assert.match(problems({ ...VALID, grafanaPlugins: "grafana-clock-panel@2.1.8" })[0]!, /must include grafana-redshift-datasource/);
});

test.run();
