// infra/aws-provider.ts alone under mocks: a provider for another region takes the stack's own `aws:`
// configuration (credentials, account guards, default tags), typed as the provider wants it, with
// credentials kept secret, and the region it was made for.
import * as pulumi from "@pulumi/pulumi";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { regionalProvider, stackAwsProviderArgs } from "../infra/aws-provider.js";
import { declare, secretValue } from "./infra/component.js";

let args: Record<string, unknown> = {};
const d = await declare(() => {
  pulumi.runtime.setAllConfig({
    "aws:region": "eu-west-2",
    "aws:profile": "acme",
    "aws:allowedAccountIds": '["123456789012"]',
    "aws:defaultTags": '{"tags":{"owner":"data"}}',
    "aws:skipMetadataApiCheck": "false",
    "aws:maxRetries": "7",
    "aws:secretKey": "s3cr3t",
    "coffeetl:stack": "not an aws key",
  });
  args = stackAwsProviderArgs();
  regionalProvider("us-east-1", "us-east-1");
});

test("every aws: key but the region, typed: JSON lists and objects, booleans, numeric keys as numbers", () => {
  assert.equal(Object.keys(args).sort(), ["allowedAccountIds", "defaultTags", "maxRetries", "profile", "secretKey", "skipMetadataApiCheck"]);
  assert.equal(
    [args.profile, args.allowedAccountIds, args.defaultTags, args.skipMetadataApiCheck, args.maxRetries],
    ["acme", ["123456789012"], { tags: { owner: "data" } }, false, 7],
  );
  assert.ok(pulumi.Output.isInstance(args.secretKey), "credentials are wrapped as secrets");
});

test("the provider: the region asked for, with the stack's settings; credentials secret", () => {
  const p = d.one("pulumi:providers:aws", "us-east-1");
  assert.is(p.inputs.region, "us-east-1");
  assert.is(p.inputs.profile, "acme");
  assert.match(JSON.stringify(p.inputs.allowedAccountIds), "123456789012");
  assert.is(secretValue(p.inputs.secretKey), "s3cr3t");
});

test.run();
