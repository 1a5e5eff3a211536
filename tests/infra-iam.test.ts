// infra/iam.ts alone: the IAM building blocks every component uses. ARNs are built from the stack's
// partition, region and account (never `*`); the TLS-only statement; trust policies with the
// confused-deputy condition when asked; SecureString decryption only via SSM in this region.
import * as pulumi from "@pulumi/pulumi";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  arn,
  assumeRolePolicy,
  denyInsecureTransport,
  lookupAwsContext,
  parameterArn,
  policyJson,
  ssmDecryptStatement,
  type AwsContext,
} from "../infra/iam.js";
import { declare } from "./infra/component.js";
import { ACCOUNT, REGION, settle } from "./infra/harness.js";

let looked: AwsContext | undefined;
await declare(() => {
  looked = lookupAwsContext();
});
const ctx: AwsContext = {
  partition: pulumi.output("aws-cn"),
  region: pulumi.output("cn-north-1"),
  accountId: pulumi.output("111122223333"),
  dnsSuffix: pulumi.output("amazonaws.com.cn"),
};

test("lookupAwsContext: partition, region, account and DNS suffix from the provider's lookups", async () => {
  assert.equal(
    [await settle(looked!.partition), await settle(looked!.region), await settle(looked!.accountId), await settle(looked!.dnsSuffix)],
    ["aws", REGION, ACCOUNT, "amazonaws.com"],
  );
});

test("arn: the context's partition, region and account; global services without a region", async () => {
  assert.is(await settle(arn(ctx, "sqs", "queue-1")), "arn:aws-cn:sqs:cn-north-1:111122223333:queue-1");
  assert.is(await settle(arn(ctx, "iam", "role/x", { region: false })), "arn:aws-cn:iam::111122223333:role/x");
});

test("parameterArn: a leading / of the name is the path's, not doubled", async () => {
  assert.is(await settle(parameterArn(ctx, "/coffeetl/acme/key")), "arn:aws-cn:ssm:cn-north-1:111122223333:parameter/coffeetl/acme/key");
  assert.is(await settle(parameterArn(ctx, "plain")), "arn:aws-cn:ssm:cn-north-1:111122223333:parameter/plain");
});

test("policyJson: a 2012-10-17 document, inputs resolved", async () => {
  const doc = JSON.parse((await settle(policyJson([{ Effect: "Allow", Action: "s3:GetObject", Resource: arn(ctx, "s3", "b/*", { region: false }) }])))!);
  assert.equal(doc, { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws-cn:s3::111122223333:b/*" }] });
});

test("denyInsecureTransport: every action of the service, by anyone, without TLS", () => {
  assert.equal(denyInsecureTransport("sqs", "arn:q"), {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: "sqs:*",
    Resource: "arn:q",
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  });
});

test("assumeRolePolicy: the service may assume the role; with an account, only on that account's behalf", async () => {
  const plain = JSON.parse((await settle(assumeRolePolicy("lambda.amazonaws.com")))!);
  assert.equal(plain.Statement, [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }]);
  const scoped = JSON.parse((await settle(assumeRolePolicy(["a.amazonaws.com", "b.amazonaws.com"], ctx.accountId)))!);
  assert.equal(scoped.Statement[0].Principal, { Service: ["a.amazonaws.com", "b.amazonaws.com"] });
  assert.equal(scoped.Statement[0].Condition, { StringEquals: { "aws:SourceAccount": "111122223333" } });
});

test("ssmDecryptStatement: kms:Decrypt on the account's keys, only through SSM in this region", async () => {
  const s = ssmDecryptStatement(ctx);
  assert.equal([s.Effect, s.Action], ["Allow", "kms:Decrypt"]);
  assert.is(await settle(s.Resource as pulumi.Output<string>), "arn:aws-cn:kms:cn-north-1:111122223333:key/*");
  assert.is(await settle(s.Condition!.StringEquals!["kms:ViaService"] as pulumi.Output<string>), "ssm.cn-north-1.amazonaws.com.cn");
});

test.run();
