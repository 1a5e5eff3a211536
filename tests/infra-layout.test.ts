// infra/layout.ts alone: one stack's physical names and queue settings, read by the program and by the
// moto suites alike. Names carry the stack; bucket prefixes are slugged and short enough for S3; a
// parked message outlives its queue's retention; the visibility covers six load timeouts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseConfig, type RawConfig } from "../infra/config.js";
import { DEAD_LETTER_RETENTION_SECONDS, LOAD_QUEUE_RETENTION_SECONDS, loadQueueVisibilitySeconds, stackLayout } from "../infra/layout.js";

const RAW: RawConfig = { redshiftParameterName: "/coffeetl/acme-prod/redshift", grafanaAllowedCidrs: '["203.0.113.0/24"]', redshiftWorkgroupName: "analytics" };
const layout = stackLayout(parseConfig(RAW, "acme-prod"));

test("names carry the stack: queues, functions, parameters under the stack's prefix", () => {
  assert.equal(
    [layout.deadLetterQueueName, layout.loadQueueName, layout.loadDeadLetterQueueName, layout.extractTransformFunctionName, layout.loadFunctionName],
    ["coffeetl-acme-prod-dlq", "coffeetl-acme-prod-load", "coffeetl-acme-prod-load-dlq", "coffeetl-acme-prod-extract-transform", "coffeetl-acme-prod-load"],
  );
  assert.equal(
    [layout.transactionIdKeyParameter, layout.grafanaAdminPasswordParameter, layout.uploaderParameter("leeds")],
    ["/coffeetl/acme-prod/transaction-secret", "/coffeetl/acme-prod/grafana-admin-password", "/coffeetl/acme-prod/uploaders/leeds"],
  );
});

test("bucket prefixes: lower-case slug of the stack, within S3's 37 characters for a prefix", () => {
  assert.equal([layout.rawBucketPrefix, layout.transformedBucketPrefix], ["coffeetl-acme-prod-raw-", "coffeetl-acme-prod-transformed-"]);
  const long = stackLayout(parseConfig(RAW, "Acme_Coffee_Northern_Region_Prod"));
  for (const prefix of [long.rawBucketPrefix, long.transformedBucketPrefix]) {
    assert.ok(prefix.length <= 37, `${prefix} is ${prefix.length} characters`);
    assert.match(prefix, /^[a-z0-9-]+$/);
  }
  assert.is(long.transformedBucketPrefix, "coffeetl-acme-coffee-nor-transformed-");
});

test("queue timing: visibility six load timeouts; a parked message outlives the load queue's retention", () => {
  assert.is(loadQueueVisibilitySeconds(600), 3600);
  assert.is(layout.loadQueueVisibilitySeconds, 6 * parseConfig(RAW, "acme-prod").load.timeoutSeconds);
  assert.ok(DEAD_LETTER_RETENTION_SECONDS > LOAD_QUEUE_RETENTION_SECONDS);
  assert.is(DEAD_LETTER_RETENTION_SECONDS, 14 * 24 * 3600, "the SQS maximum");
  assert.is(layout.maxReceives, parseConfig(RAW, "acme-prod").loadQueue.maxReceives);
});

test("triggers: every spelling of .csv on the raw bucket; manifests and transform failures on the transformed one", () => {
  assert.is(layout.rawTriggerSuffixes.length, 8);
  assert.ok(layout.rawTriggerSuffixes.includes(".CSV") && layout.rawTriggerSuffixes.includes(".csv"));
  assert.equal(layout.transformedTriggerSuffixes, ["manifest.json", "failed.json"]);
});

test.run();
