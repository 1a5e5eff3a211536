// The Grafana host under the Pulumi mocks (issue 13): HTTPS front, no address range admitted to the
// host, reader-only warehouse credentials, viewer logins as SecureStrings that reach the host, and a
// dashboard change that does not replace the instance. Run alone: node --import tsx tests/infra-grafana.test.ts
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { REPO_ROOT } from "../infra/bundle.js";
import { ConfigError, parseConfig } from "../infra/config.js";
import { grafanaWarehouseStatements } from "../infra/grafana-access.js";
import { queriesWarehouse, stampDashboard } from "../infra/grafana-assets.js";
import { durationSeconds } from "../infra/grafana-config.js";
import { privateEgressProblem } from "../infra/grafana.js";
import { ALL_VIEWER_ORIGIN_REQUEST_POLICY, CACHING_DISABLED_POLICY, ORIGIN_HEADER } from "../infra/grafana-front.js";
import { evaluatePolicies } from "./fixtures/iam-policies.js";
import { ACCOUNT, asList, runProgram, settle, statementsOf, type Recorded } from "./infra/harness.js";

const VIEWERS = [
  { login: "jo.bloggs", email: "jo@client.example", name: "Jo Bloggs" },
  { login: "ops", email: "ops@client.example" },
];
const CIDRS = ["203.0.113.0/24", "198.51.100.7/32"];
/** The stack config every test here deploys (and the in-place edit test parses again). */
const ACME_CONFIG = {
  redshiftParameterName: "/coffeetl/acme-prod/redshift",
  redshiftClusterIdentifier: "acme-dw",
  redshiftDbUser: "coffeetl_loader",
  redshiftDatabase: "analytics",
  grafanaAllowedCidrs: JSON.stringify(CIDRS),
  grafanaViewers: JSON.stringify(VIEWERS),
};
const h = await runProgram(ACME_CONFIG, "acme-prod");

const T = {
  sg: "aws:ec2/securityGroup:SecurityGroup",
  ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  parameter: "aws:ssm/parameter:Parameter",
  object: "aws:s3/bucketObjectv2:BucketObjectv2",
  instance: "aws:ec2/instance:Instance",
};
const hostPolicy = () => statementsOf(h.one("aws:iam/rolePolicy:RolePolicy", "grafana-policy").inputs.policy);
const allowed = (statements: Record<string, any>[], action: string) => statements.filter((s) => s.Effect === "Allow" && asList(s.Action).includes(action));
const object = (key: string): Recorded => h.byType(T.object).find((o) => o.inputs.key === key) ?? assert.unreachable(`no object ${key}`)!;
const secretValue = (v: unknown) => (typeof v === "object" && v !== null && "value" in v ? (v as { value: string }).value : v);
const settings = () => JSON.parse(String(secretValue(object("grafana/settings.json").inputs.content)));

test("grafanaUrl is https: CloudFront's default certificate, viewers redirected to HTTPS, nothing cached", () => {
  assert.is(h.outputs.grafanaUrl, "https://d111111abcdef8.cloudfront.net");
  const cdn = h.one("aws:cloudfront/distribution:Distribution", "grafana-front-cdn");
  assert.equal(cdn.inputs.viewerCertificate, { cloudfrontDefaultCertificate: true });
  const behaviour = cdn.inputs.defaultCacheBehavior;
  assert.is(behaviour.viewerProtocolPolicy, "redirect-to-https");
  assert.is(behaviour.cachePolicyId, CACHING_DISABLED_POLICY);
  assert.is(behaviour.originRequestPolicyId, ALL_VIEWER_ORIGIN_REQUEST_POLICY);
  assert.ok(behaviour.allowedMethods.includes("POST"), "log-ins and queries are POSTs");
  const origin = (secretValue(cdn.inputs.origins) as any[])[0];
  assert.is(origin.domainName, "ec2-198-51-100-20.eu-west-2.compute.amazonaws.com", "the Elastic IP's name: stable across instance replacements");
  assert.is(origin.customOriginConfig.httpPort, 80);
  // Grafana builds its links and redirects from this URL.
  assert.is(settings().rootUrl, "https://d111111abcdef8.cloudfront.net/");
});

test("grafanaAllowedCidrs are enforced at the front: a WAF web ACL (us-east-1) that blocks all but them", () => {
  const acl = h.one("aws:wafv2/webAcl:WebAcl", "grafana-front-acl");
  const ipSet = h.one("aws:wafv2/ipSet:IpSet", "grafana-front-allowed");
  assert.equal([acl.inputs.scope, acl.inputs.defaultAction], ["CLOUDFRONT", { block: {} }]);
  assert.equal(
    acl.inputs.rules.map((r: any) => [r.action, r.statement.ipSetReferenceStatement.arn]),
    [[{ allow: {} }, ipSet.props.arn]],
  );
  assert.equal([ipSet.inputs.scope, ipSet.inputs.addresses], ["CLOUDFRONT", CIDRS]);
  assert.is(h.one("aws:cloudfront/distribution:Distribution", "grafana-front-cdn").inputs.webAclId, acl.props.arn);
  const provider = h.one("pulumi:providers:aws", "grafana-front-us-east-1");
  assert.is(provider.inputs.region, "us-east-1", "CloudFront's WAF lives in us-east-1");
});

test("no security group rule admits an address range to the host: only CloudFront's origin-facing prefix list, port 80", () => {
  const hostGroup = h.one(T.sg, "grafana-sg");
  assert.not.ok(hostGroup.inputs.ingress?.length, "no inline rules");
  assert.is(h.byType("aws:ec2/securityGroupRule:SecurityGroupRule").length, 0);
  const rules = h.byType(T.ingress).filter((r) => r.inputs.securityGroupId === hostGroup.id);
  assert.equal(
    rules.map((r) => [r.inputs.prefixListId, r.inputs.cidrIpv4, r.inputs.cidrIpv6, r.inputs.referencedSecurityGroupId, r.inputs.fromPort, r.inputs.toPort]),
    [["pl-4fa04526", undefined, undefined, undefined, 80, 80]],
  );
  const lookup = h.invokes.find((i) => i.token === "aws:ec2/getManagedPrefixList:getManagedPrefixList");
  assert.equal(lookup?.args.name, "com.amazonaws.global.cloudfront.origin-facing");
  for (const r of h.byType(T.ingress)) assert.not.ok(r.inputs.cidrIpv4 || r.inputs.cidrIpv6, `${r.name} admits an address range`);
  // Grafana listens on loopback only; nginx on :80 refuses requests without the secret origin header.
  const userData = h.one(T.instance, "grafana").inputs.userData as string;
  assert.match(userData, /-p 127\.0\.0\.1:3000:3000/);
  const sync = readFileSync(join(REPO_ROOT, "grafana/host/sync.sh"), "utf8");
  assert.match(sync, new RegExp(`if \\(\\\\\\$http_${ORIGIN_HEADER.toLowerCase().replace(/-/g, "_")} != "\\$origin_secret"\\) \\{ return 403; \\}`));
  const header = (secretValue(h.one("aws:cloudfront/distribution:Distribution", "grafana-front-cdn").inputs.origins) as any[])[0].customHeaders[0];
  const secret = h.one("random:index/randomPassword:RandomPassword", "grafana-origin-secret-value").props.result;
  assert.equal([header.name, secretValue(header.value)], [ORIGIN_HEADER, secret]);
  assert.is(settings().originSecretParameter, "/coffeetl/acme-prod/grafana/origin-secret");
  assert.not.ok(JSON.stringify(settings()).includes(secret), "settings name the secret, never hold it");
});

test("the Grafana role can obtain credentials only for the reader identity", () => {
  const s = hostPolicy();
  // The stack names its cluster and database: the reader user there, never another user or cluster.
  assert.equal(allowed(s, "redshift:GetClusterCredentials")[0]?.Resource, [
    `arn:aws:redshift:eu-west-2:${ACCOUNT}:dbuser:acme-dw/coffeetl_grafana`,
    `arn:aws:redshift:eu-west-2:${ACCOUNT}:dbname:acme-dw/analytics`,
  ]);
  assert.equal(allowed(s, "redshift:GetClusterCredentials")[0]?.Condition, { StringEquals: { "redshift:DbUser": "coffeetl_grafana" } });
  for (const action of [
    "redshift:GetClusterCredentialsWithIAM",
    "redshift:JoinGroup",
    "redshift:CreateClusterUser",
    "secretsmanager:GetSecretValue",
    "redshift-data:BatchExecuteStatement",
  ])
    assert.is(allowed(s, action).length, 0, `${action} is the loader's`);
  // Serverless: the role's own IAMR user, mapped to the reader role by this tag.
  assert.is(h.one("aws:iam/role:Role", "grafana-role").inputs.tags.RedshiftDbRoles, "coffeetl_reader");

  // The three connection shapes as the config narrows them.
  const ctx = {
    partition: pulumi.output("aws"),
    region: pulumi.output("eu-west-2"),
    accountId: pulumi.output(ACCOUNT),
    dnsSuffix: pulumi.output("amazonaws.com"),
  };
  const provisioned = grafanaWarehouseStatements(
    ctx,
    { managed: false, scope: { clusterIdentifier: "acme-dw", dbUser: "loader", database: "dev" } },
    "coffeetl_grafana",
  );
  const serverless = grafanaWarehouseStatements(
    ctx,
    { managed: true, workgroupArn: "arn:aws:redshift-serverless:eu-west-2:1:workgroup/x", scope: {} },
    "coffeetl_grafana",
  );
  const withSecret = grafanaWarehouseStatements(
    ctx,
    { managed: false, scope: { clusterIdentifier: "acme-dw", secretArn: "arn:aws:secretsmanager:eu-west-2:1:secret:loader" } },
    "coffeetl_grafana",
  );
  assert.equal(allowed(serverless, "redshift-serverless:GetCredentials")[0]?.Resource, "arn:aws:redshift-serverless:eu-west-2:1:workgroup/x");
  assert.is(allowed(serverless, "redshift:GetClusterCredentials").length, 0);
  for (const statements of [provisioned, withSecret]) {
    assert.is(allowed(statements, "secretsmanager:GetSecretValue").length, 0, "never the loader's secret");
    assert.is(allowed(statements, "redshift-serverless:GetCredentials").length, 0);
  }
  return settle(pulumi.output(allowed(provisioned, "redshift:GetClusterCredentials")[0]!.Resource as pulumi.Input<string>[])).then((resources) => {
    assert.equal(resources, [
      `arn:aws:redshift:eu-west-2:${ACCOUNT}:dbuser:acme-dw/coffeetl_grafana`,
      `arn:aws:redshift:eu-west-2:${ACCOUNT}:dbname:acme-dw/dev`,
    ]);
  });
});

test("viewers from config: one SecureString each, listed as an output, named in the host's settings, readable by the host only", () => {
  const names = VIEWERS.map((v) => `/coffeetl/acme-prod/grafana/viewers/${v.login}`);
  for (const [i, v] of VIEWERS.entries()) {
    const p = h.one(T.parameter, `grafana-viewers-${v.login}`);
    assert.equal([p.inputs.name, p.inputs.type], [names[i], "SecureString"]);
    assert.is(secretValue(p.inputs.value), h.one("random:index/randomPassword:RandomPassword", `grafana-viewers-${v.login}-value`).props.result);
  }
  assert.equal(h.outputs.grafanaViewerPasswordParameters, names);
  assert.equal(settings().viewers, [
    { login: "jo.bloggs", email: "jo@client.example", name: "Jo Bloggs", passwordParameter: names[0] },
    { login: "ops", email: "ops@client.example", passwordParameter: names[1] },
  ]);
  const own = (name: string) => `arn:aws:ssm:eu-west-2:${ACCOUNT}:parameter${name}`;
  const expected = ["/coffeetl/acme-prod/grafana-admin-password", "/coffeetl/acme-prod/grafana/origin-secret", ...names, "/coffeetl/acme-prod/redshift"].map(
    own,
  );
  const s = hostPolicy();
  assert.equal(
    allowed(s, "ssm:GetParameter").map((x) => x.Resource),
    [expected],
    "its own parameters only: not the transaction secret",
  );
  const decrypt = allowed(s, "kms:Decrypt")[0]!;
  assert.equal(decrypt.Condition.StringEquals["kms:EncryptionContext:PARAMETER_ARN"], expected, "decrypts only those parameters");
  assert.is(h.byType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").length, 0, "no AmazonSSMManagedInstanceCore (it reads every parameter)");
  // Never a password in user data, settings or outputs.
  const userData = h.one(T.instance, "grafana").inputs.userData as string;
  for (const v of VIEWERS) {
    const pw = h.one("random:index/randomPassword:RandomPassword", `grafana-viewers-${v.login}-value`).props.result as string;
    assert.not.ok(userData.includes(pw) || JSON.stringify(settings()).includes(pw) || JSON.stringify(h.outputs).includes(pw));
  }
  assert.equal(evaluatePolicies(h.resources.map(({ type, name, id, props }) => ({ type, name, id, props }))), []);
});

test("Grafana's state: its own encrypted volume in the host's zone, attached (detached cleanly) to the instance", () => {
  const volume = h.one("aws:ebs/volume:Volume", "grafana-data");
  assert.equal([volume.inputs.availabilityZone, volume.inputs.encrypted, volume.inputs.type, volume.inputs.size], ["eu-west-2a", true, "gp3", 10]);
  const attachment = h.one("aws:ec2/volumeAttachment:VolumeAttachment", "grafana-data-attachment");
  assert.equal([attachment.inputs.volumeId, attachment.inputs.instanceId, attachment.inputs.stopInstanceBeforeDetaching], [volume.id, "i-grafana", true]);
  const userData = h.one(T.instance, "grafana").inputs.userData as string;
  assert.ok(userData.includes("nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0"), "the boot finds the volume by its id");
  assert.match(userData, /-v \/var\/lib\/coffeetl-grafana:\/var\/lib\/grafana/);
  assert.match(userData, /if \[ -z "\$\(blkid -o value -s TYPE "\$device" \|\| true\)" \]; then mkfs/, "formats only a blank volume");
});

test("the stack name reaches the dashboards: the hidden stack constant is stamped at upload", () => {
  const health = JSON.parse(String(object("grafana/dashboards/pipeline-health.json").inputs.content));
  const stack = health.templating.list.find((v: any) => v.name === "stack");
  assert.equal([stack.type, stack.hide, stack.query, stack.current.value], ["constant", 2, "acme-prod", "acme-prod"]);
  assert.is(stampDashboard('{"title":"x"}', "s"), '{"title":"x"}', "a dashboard without the constant is shipped as is");
  assert.is(settings().stack, "acme-prod");
});

test("the bill: no dashboard that queries the warehouse refreshes more often than hourly by default; Grafana refuses faster refreshes", () => {
  const dashboards = h.byType(T.object).filter((o) => /^grafana\/dashboards\/.+\.json$/.test(o.inputs.key));
  assert.ok(dashboards.length >= 2);
  let warehouse = 0;
  for (const o of dashboards) {
    const d = JSON.parse(String(o.inputs.content));
    if (!queriesWarehouse(d)) continue;
    warehouse++;
    const every = d.refresh ? durationSeconds(d.refresh) : Infinity;
    assert.ok(every !== undefined && every >= 3600, `${o.inputs.key} refreshes every ${d.refresh}`);
  }
  assert.ok(warehouse >= 2, "both CoffeETL dashboards read the warehouse");
  assert.is(settings().minRefreshInterval, "1h", "the host sets GF_DASHBOARDS_MIN_REFRESH_INTERVAL from it");
  // The key moves it; a faster saved refresh is capped, a slower one kept.
  assert.is(
    parseConfig(
      { redshiftParameterName: "/p", redshiftWorkgroupName: "analytics", grafanaAllowedCidrs: '["203.0.113.0/24"]', grafanaRefreshInterval: "2h" },
      "s",
    ).grafana.refreshInterval,
    "2h",
  );
  const panel = { refresh: "5m", panels: [{ datasource: { type: "grafana-redshift-datasource", uid: "coffeetl-redshift" } }] };
  assert.is(JSON.parse(stampDashboard(JSON.stringify(panel), undefined, "2h")).refresh, "2h");
  assert.is(JSON.parse(stampDashboard(JSON.stringify({ ...panel, refresh: "1d" }), undefined, "2h")).refresh, "1d");
  assert.is(
    JSON.parse(stampDashboard(JSON.stringify({ ...panel, panels: [] }), undefined, "2h")).refresh,
    "5m",
    "a dashboard that never queries the warehouse keeps its own",
  );
  let problems: string[] = [];
  try {
    parseConfig(
      { redshiftParameterName: "/p", redshiftWorkgroupName: "analytics", grafanaAllowedCidrs: '["203.0.113.0/24"]', grafanaRefreshInterval: "10s" },
      "s",
    );
  } catch (error) {
    problems = (error as ConfigError).problems;
  }
  assert.match(problems[0] ?? "", /grafanaRefreshInterval must be a Grafana duration of at least 1m/);
});

test("a dashboard file change does not replace the instance: same user data and template, new objects and VERSION", async () => {
  const changed = mkdtempSync(join(tmpdir(), "coffeetl-grafana-assets-"));
  try {
    cpSync(join(REPO_ROOT, "grafana"), changed, { recursive: true });
    const file = join(changed, "dashboards/sales.json");
    const sales = JSON.parse(readFileSync(file, "utf8"));
    sales.title = "Sales (edited)";
    writeFileSync(file, JSON.stringify(sales, null, 2));
    const { Grafana } = await import("../infra/grafana.js");
    const original = h.one(T.instance, "grafana");
    const before = h.resources.length;
    const ctx = {
      partition: pulumi.output("aws"),
      region: pulumi.output("eu-west-2"),
      accountId: pulumi.output(ACCOUNT),
      dnsSuffix: pulumi.output("amazonaws.com"),
    };
    const settingsOf = parseConfig(ACME_CONFIG, "acme-prod");
    const edited = new Grafana("grafana", {
      ...settingsOf.grafana,
      context: ctx,
      stack: "acme-prod",
      parameterPrefix: "/coffeetl/acme-prod",
      vpcId: "vpc-0a1b2c3d",
      subnetId: "subnet-0a",
      assetsDir: changed,
      adminPasswordParameter: {
        name: "/coffeetl/acme-prod/grafana-admin-password",
        arn: `arn:aws:ssm:eu-west-2:${ACCOUNT}:parameter/coffeetl/acme-prod/grafana-admin-password`,
      },
      warehouseParameterName: "/coffeetl/acme-prod/redshift",
      warehouseStatements: [],
      tags: { "coffeetl:stack": "acme-prod" },
    });
    await settle(edited.instance.userData);
    await settle(edited.url);
    await new Promise((r) => setTimeout(r, 100));
    const later = h.resources.slice(before);
    const instance = later.find((r) => r.type === T.instance)!;
    const template = later.find((r) => r.type === "aws:ec2/launchTemplate:LaunchTemplate")!;
    assert.is(instance.inputs.userData, original.inputs.userData, "user data does not change with a dashboard");
    const originalTemplate = h.one("aws:ec2/launchTemplate:LaunchTemplate", "grafana-template").inputs;
    for (const key of new Set([...Object.keys(template.inputs), ...Object.keys(originalTemplate)]))
      assert.equal(template.inputs[key], originalTemplate[key], `launch template ${key}`);
    assert.equal(instance.inputs.launchTemplate, original.inputs.launchTemplate);
    assert.is(instance.inputs.userDataReplaceOnChange, true, "only a change of the host itself replaces it");
    const laterObject = (key: string) => later.find((r) => r.type === T.object && r.inputs.key === key)!;
    assert.not.equal(laterObject("grafana/dashboards/sales.json").inputs.content, object("grafana/dashboards/sales.json").inputs.content);
    assert.not.equal(laterObject("grafana/VERSION").inputs.content, object("grafana/VERSION").inputs.content, "the host sees a new VERSION and re-syncs");
    assert.equal(laterObject("grafana/dashboards/pipeline-health.json").inputs.content, object("grafana/dashboards/pipeline-health.json").inputs.content);
  } finally {
    rmSync(changed, { recursive: true, force: true });
  }
});

test("config: viewers validated, a domain/certificate front refused clearly, a private host without a way out refused", () => {
  const problems = (raw: Record<string, string>): string[] => {
    try {
      parseConfig(
        {
          redshiftParameterName: "/p",
          redshiftClusterIdentifier: "acme-dw",
          redshiftDbUser: "coffeetl_loader",
          redshiftDatabase: "analytics",
          grafanaAllowedCidrs: '["192.0.2.0/24"]',
          ...raw,
        },
        "acme-prod",
      );
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };
  assert.equal(problems({ grafanaViewers: JSON.stringify(VIEWERS) }), []);
  assert.match(problems({ grafanaViewers: '[{"login":"admin","email":"a@b.co"}]' }).join("\n"), /"admin" is Grafana's administrator/);
  assert.match(
    problems({ grafanaViewers: '[{"login":"jo","email":"x"},{"login":"Jo!","email":"j@b.co"}]' }).join("\n"),
    /\[0\]\.email must be an e-mail[\s\S]*\[1\]\.login must be/,
  );
  assert.match(problems({ grafanaViewers: '[{"login":"jo","email":"j@b.co"},{"login":"jo","email":"j@b.co"}]' }).join("\n"), /listed twice/);
  assert.match(
    problems({ grafanaDomain: "grafana.client.example" }).join("\n"),
    /not supported yet; remove them: Grafana is served over HTTPS at the CloudFront address/,
  );
  assert.match(problems({ grafanaPublicIp: "false" }).join("\n"), /grafanaPublicIp is false, but the stack's own VPC has no NAT gateway/);
  // A client subnet: checked at preview against its route table (tests/infra-provisioned.test.ts has one with a NAT route).
  assert.match(
    privateEgressProblem("subnet-1", "rtb-1", [{ cidrBlock: "10.0.0.0/16" }, { cidrBlock: "0.0.0.0/0" }])!,
    /subnet subnet-1 has no route to the internet through a NAT gateway.*route table rtb-1/,
  );
  assert.match(privateEgressProblem("subnet-1", undefined, [])!, /route table not found/);
  assert.is(privateEgressProblem("subnet-1", "rtb-1", [{ cidrBlock: "0.0.0.0/0", natGatewayId: "nat-1" }]), undefined);
});

test.run();
