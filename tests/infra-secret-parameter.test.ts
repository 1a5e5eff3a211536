// infra/secret-parameter.ts alone under mocks: a SecureString parameter holding a generated
// alphanumeric secret, or the value given (then nothing is generated).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SecretParameter } from "../infra/secret-parameter.js";
import { declare, secretValue } from "./infra/component.js";

const d = await declare(() => {
  new SecretParameter("admin", { parameterName: "/coffeetl/acme-prod/grafana-admin-password", description: "Grafana admin", length: 32 });
  new SecretParameter("kept", { parameterName: "/coffeetl/acme-prod/transaction-secret", description: "carried over", length: 32, value: "an-earlier-secret" });
});

test("the parameter is a SecureString of the given name, a child of its component", () => {
  const p = d.one("aws:ssm/parameter:Parameter", "admin");
  assert.equal([p.inputs.name, p.inputs.type, p.inputs.description], ["/coffeetl/acme-prod/grafana-admin-password", "SecureString", "Grafana admin"]);
  assert.is(p.parent, "coffeetl:secrets:SecretParameter::admin");
});

test("a generated value: its length, letters and digits only (no shell-special characters)", () => {
  const pw = d.one("random:index/randomPassword:RandomPassword", "admin-value");
  assert.equal([pw.inputs.length, pw.inputs.special, pw.inputs.minUpper, pw.inputs.minLower, pw.inputs.minNumeric], [32, false, 1, 1, 1]);
  assert.is(secretValue(d.one("aws:ssm/parameter:Parameter", "admin").inputs.value), pw.props.result);
});

test("a value given is stored as a secret, and no password is generated for it", () => {
  assert.is(secretValue(d.one("aws:ssm/parameter:Parameter", "kept").inputs.value), "an-earlier-secret");
  assert.equal(
    d.byType("random:index/randomPassword:RandomPassword").map((r) => r.name),
    ["admin-value"],
  );
});

test.run();
