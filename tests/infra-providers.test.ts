// Every explicit AWS provider the program makes carries the stack's `aws:` settings (region aside):
// an explicit provider takes none of them by itself (pulumi/pulumi-aws#1307, #3259).
// Run alone: node --import tsx tests/infra-providers.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runProgram } from "./infra/harness.js";

const assumeRoles = [{ roleArn: "arn:aws:iam::210987654321:role/coffeetl-deployer", sessionName: "coffeetl", externalId: "acme" }];
const defaultTags = { tags: { client: "acme", "cost-centre": "42" } };
const h = await runProgram({
  redshiftParameterName: "/coffeetl/acme-prod/redshift",
  redshiftClusterIdentifier: "acme-dw",
  redshiftDbUser: "coffeetl",
  redshiftDatabase: "analytics",
  grafanaAllowedCidrs: "192.0.2.0/24",
  "aws:region": "eu-west-2",
  "aws:profile": "acme-prod",
  "aws:sharedCredentialsFiles": JSON.stringify(["/home/ops/.aws/acme-credentials"]),
  "aws:assumeRoles": JSON.stringify(assumeRoles),
  "aws:defaultTags": JSON.stringify(defaultTags),
  "aws:allowedAccountIds": JSON.stringify(["210987654321"]),
});
/** Provider inputs arrive as JSON strings for nested values. */
const value = (v: unknown) => (typeof v === "string" && /^[[{]/.test(v) ? JSON.parse(v) : v);

test("every explicit provider carries the stack's profile, credentials files, assumed roles, default tags and account guard", () => {
  const providers = h.byType("pulumi:providers:aws");
  assert.ok(providers.length >= 1, "the Grafana front's us-east-1 provider");
  for (const p of providers) {
    assert.is(p.inputs.profile, "acme-prod", p.name);
    assert.equal(value(p.inputs.sharedCredentialsFiles), ["/home/ops/.aws/acme-credentials"], p.name);
    assert.equal(value(p.inputs.assumeRoles), assumeRoles, p.name);
    assert.equal(value(p.inputs.defaultTags), defaultTags, p.name);
    assert.equal(value(p.inputs.allowedAccountIds), ["210987654321"], p.name);
  }
  assert.is(h.one("pulumi:providers:aws", "grafana-front-us-east-1").inputs.region, "us-east-1", "its own region, not the stack's");
});

test("the WAF resources are created through that provider", () => {
  for (const type of ["aws:wafv2/webAcl:WebAcl", "aws:wafv2/ipSet:IpSet"]) {
    for (const r of h.byType(type)) assert.ok(r.provider?.includes("grafana-front-us-east-1"), `${r.name}: ${r.provider}`);
  }
});

test.run();
