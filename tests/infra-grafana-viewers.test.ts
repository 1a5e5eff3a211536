// infra/grafana-viewers.ts alone under mocks: one generated password per viewer, each in its own
// SecureString under <prefix>/grafana/viewers/<login>, so the host reads exactly the viewers' ones.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GrafanaViewers } from "../infra/grafana-viewers.js";
import { declare } from "./infra/component.js";
import { settle } from "./infra/harness.js";

let viewers: GrafanaViewers | undefined;
let none: GrafanaViewers | undefined;
const d = await declare(() => {
  viewers = new GrafanaViewers("viewers", {
    viewers: [
      { login: "ana", email: "ana@example.com" },
      { login: "bo", email: "bo@example.com" },
    ],
    parameterPrefix: "/coffeetl/acme-prod",
  });
  none = new GrafanaViewers("nobody", { viewers: [], parameterPrefix: "/coffeetl/acme-prod" });
});

test("one SecureString per viewer under the viewers' path, each with its own 24-character password", () => {
  const params = d
    .byType("aws:ssm/parameter:Parameter")
    .map((p) => [p.inputs.name, p.inputs.type])
    .sort();
  assert.equal(params, [
    ["/coffeetl/acme-prod/grafana/viewers/ana", "SecureString"],
    ["/coffeetl/acme-prod/grafana/viewers/bo", "SecureString"],
  ]);
  const passwords = d.byType("random:index/randomPassword:RandomPassword");
  assert.equal(passwords.map((p) => p.name).sort(), ["viewers-ana-value", "viewers-bo-value"]);
  for (const p of passwords) assert.is(p.inputs.length, 24);
});

test("the accounts carry each viewer with its parameter's name and ARN; no viewers, nothing made", async () => {
  assert.equal(
    viewers!.accounts.map((a) => a.login),
    ["ana", "bo"],
  );
  assert.is(await settle(viewers!.accounts[0]!.passwordParameter), "/coffeetl/acme-prod/grafana/viewers/ana");
  assert.match((await settle(viewers!.accounts[1]!.passwordParameterArn))!, /:parameter\/coffeetl\/acme-prod\/grafana\/viewers\/bo$/);
  assert.equal(none!.accounts, []);
  assert.not.ok(d.resources.some((r) => r.parent?.includes("GrafanaViewers::nobody") || r.name.startsWith("nobody-")));
});

test.run();
