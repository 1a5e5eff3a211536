// Stack configuration: problems are listed in one fixed order, section after section as parseConfig
// reads them (infra/config.ts), so a preview's list reads the same from one run to the next.
// Run alone: node --import tsx tests/infra-config-order.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, parseConfig, type RawConfig } from "../infra/config.js";

/** One bad value per section, each giving its own problem (the usage-limit key gives two). */
const BAD: RawConfig = {
  forceDestroy: "yes",
  transformedExpirationDays: "0",
  rawNoncurrentVersionExpirationDays: "0",
  maxEventAgeSeconds: "10",
  maxRetryAttempts: "5",
  loadReservedConcurrency: "500",
  extractTransformMemoryMb: "64",
  grafanaRedshiftPluginVersion: "x",
  grafanaImage: "bad image!",
  grafanaVolumeSizeGb: "7",
  warehouseProtect: "no",
  grafanaPublicIp: "no",
  grafanaViewers: "bad",
  alarmEmail: "ops",
  logLevel: "trace",
  logRetentionDays: "45",
  warehouseUsageLimitAction: "stop",
  alarmLambdaErrors: "x",
  uploadDeadline: "25:00",
  uploaderBranches: '{"york":["York"]}',
  uploaders: "Leeds",
  loadMaxReceives: "0",
  loadBatchingWindowSeconds: "0",
  loadBatchSize: "50",
  loadTimeoutSeconds: "5",
  redshiftDbUser: "loader",
  vpcId: "vpc-0abc",
  grafanaInstanceType: "bad",
  warehouseSubnetIds: "subnet-zz",
  warehouseBaseCapacity: "12",
  warehouseDatabase: "Sales",
  redshiftDatabase: "1db",
  redshiftWorkgroupName: "analytics",
  warehouse: "aurora",
  grafanaAllowedCidrs: "nope",
  allowPublicGrafana: "yes",
  redshiftParameterName: "bad name!",
};

/** The key a problem names first ("stack name" for the stack's own). */
const keyOf = (problem: string) => (problem.startsWith("stack name") ? "stack name" : (/coffeetl:(\w+)/.exec(problem)?.[1] ?? problem));

test("every section's problem, in the order the sections are read (not the order the keys were given)", () => {
  let problems: string[] = [];
  try {
    parseConfig(BAD, "bad stack!");
    assert.unreachable("the configuration should be refused");
  } catch (error) {
    assert.instance(error, ConfigError);
    problems = (error as ConfigError).problems;
  }
  assert.equal(problems.map(keyOf), [
    "stack name",
    "redshiftParameterName",
    "allowPublicGrafana",
    "grafanaAllowedCidrs",
    "warehouse",
    "redshiftDatabase",
    "warehouseDatabase",
    "warehouseBaseCapacity",
    "warehouseSubnetIds",
    "grafanaInstanceType",
    "vpcId",
    "redshiftWorkgroupName",
    "loadTimeoutSeconds",
    "loadBatchSize",
    "loadMaxReceives",
    "uploaders",
    "uploaderBranches",
    "uploadDeadline",
    "alarmLambdaErrors",
    "warehouseUsageLimitAction",
    "warehouseUsageLimitAction",
    "logRetentionDays",
    "logLevel",
    "alarmEmail",
    "grafanaViewers",
    "grafanaPublicIp",
    "warehouseProtect",
    "grafanaVolumeSizeGb",
    "grafanaImage",
    "grafanaRedshiftPluginVersion",
    "extractTransformMemoryMb",
    "loadReservedConcurrency",
    "maxRetryAttempts",
    "maxEventAgeSeconds",
    "rawNoncurrentVersionExpirationDays",
    "transformedExpirationDays",
    "forceDestroy",
  ]);
});

test.run();
