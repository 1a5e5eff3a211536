// SSM readers: the warehouse connection shapes, the secret, caching, and errors that never echo values.
import { GetParameterCommand, ParameterNotFound, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { clearParameterCache, parseWarehouseSettings, readWarehouseSettings, readTransactionIdKey } from "../functions/aws/ssm.js";

process.env.AWS_REGION = "eu-west-1";
const ROLE = "arn:aws:iam::123456789012:role/coffeetl-redshift-copy";
const PASSWORD = "Sup3r-S3cret-Pa55word!";
const P = "/coffeetl/test/redshift";
const parse = (value: unknown) => parseWarehouseSettings(typeof value === "string" ? value : JSON.stringify(value), P);

test("Serverless shape", () => {
  assert.equal(parse({ workgroupName: "coffeetl", database: "dev", copyRoleArn: ROLE }), {
    target: { kind: "serverless", workgroupName: "coffeetl", database: "dev" },
    copyRoleArn: ROLE,
  });
});

test("provisioned shape with dbUser or secretArn", () => {
  assert.equal(parse({ clusterIdentifier: "cafe-cluster", database: "dev", dbUser: "etl", copyRoleArn: ROLE }).target, {
    kind: "provisioned",
    clusterIdentifier: "cafe-cluster",
    database: "dev",
    dbUser: "etl",
  });
  const secretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redshift/etl-AbC123";
  assert.equal(parse({ clusterIdentifier: "cafe-cluster", database: "dev", secretArn, copyRoleArn: ROLE }).target, {
    kind: "provisioned",
    clusterIdentifier: "cafe-cluster",
    database: "dev",
    secretArn,
  });
});

test("bootcamp shape: cluster from the host's first label, user as DbUser, password dropped", () => {
  const c = parse({
    host: "mycluster.abc123xyz.eu-west-1.redshift.amazonaws.com",
    port: 5439,
    "database-name": "bootcamp_db",
    user: "bootcamp_user",
    password: PASSWORD,
    copyRoleArn: ROLE,
  });
  assert.equal(c, { target: { kind: "provisioned", clusterIdentifier: "mycluster", database: "bootcamp_db", dbUser: "bootcamp_user" }, copyRoleArn: ROLE });
  assert.not.ok(JSON.stringify(c).includes(PASSWORD));
});

test("invalid parameters: the error names the parameter and the problem, never the value", () => {
  const cases: [unknown, RegExp][] = [
    [`{"host": "x", "password": "${PASSWORD}"`, /is not valid JSON/],
    ['["a"]', /must be a JSON object/],
    [{ workgroupName: "wg", database: "dev" }, /missing "copyRoleArn"/],
    [{ workgroupName: "wg1", database: "dev", copyRoleArn: PASSWORD }, /invalid "copyRoleArn"/],
    [{ database: "dev", copyRoleArn: ROLE, password: PASSWORD }, /none of "workgroupName"/],
    [{ workgroupName: "wg1", clusterIdentifier: "c", database: "dev", copyRoleArn: ROLE }, /only one of/],
    [{ clusterIdentifier: "cafe", database: "dev", copyRoleArn: ROLE }, /needs "dbUser" or "secretArn"/],
    [{ clusterIdentifier: "cafe", database: "dev", dbUser: "a", secretArn: "b", copyRoleArn: ROLE }, /only one of "dbUser" and "secretArn"/],
    [{ workgroupName: "wg1", copyRoleArn: ROLE }, /missing "database"/],
    [{ host: "localhost", "database-name": "d", user: "u", password: PASSWORD, copyRoleArn: ROLE }, /invalid "host"/],
    [{ host: "mycluster.abc.eu-west-1.redshift.amazonaws.com", user: "u", password: PASSWORD, copyRoleArn: ROLE }, /missing "database-name"/],
    [{ host: "mycluster.abc.eu-west-1.redshift.amazonaws.com", "database-name": "d", password: PASSWORD, copyRoleArn: ROLE }, /missing "user"/],
    [{ host: "wg.123456789012.eu-west-1.redshift-serverless.amazonaws.com", "database-name": "d", user: "u", copyRoleArn: ROLE }, /Serverless "host"/],
    [{ workgroupName: 42, database: "dev", copyRoleArn: ROLE }, /invalid "workgroupName": expected a non-empty string/],
  ];
  for (const [value, pattern] of cases) {
    let message = "";
    try {
      parse(value);
    } catch (error) {
      message = (error as Error).message;
    }
    assert.match(message, pattern, `${JSON.stringify(value)} → ${message}`);
    assert.ok(message.startsWith(`SSM parameter "${P}" `), message);
    assert.not.ok(message.includes(PASSWORD), "the password is never echoed");
  }
});

test("readWarehouseSettings/readTransactionIdKey: WithDecryption, cached per name, errors name the parameter", async () => {
  const ssm = mockClient(SSMClient);
  const client = new SSMClient({});
  clearParameterCache();
  ssm.on(GetParameterCommand, { Name: P }).resolves({ Parameter: { Value: JSON.stringify({ workgroupName: "wg1", database: "dev", copyRoleArn: ROLE }) } });
  ssm.on(GetParameterCommand, { Name: "/s" }).resolves({ Parameter: { Value: "k".repeat(32) } });
  ssm.on(GetParameterCommand, { Name: "/short" }).resolves({ Parameter: { Value: "short" } });
  ssm.on(GetParameterCommand, { Name: "/empty" }).resolves({ Parameter: { Value: "" } });
  ssm.on(GetParameterCommand, { Name: "/missing" }).rejects(new ParameterNotFound({ message: "", $metadata: {} }));
  const denied = new Error("User is not authorized to perform: ssm:GetParameter");
  denied.name = "AccessDeniedException";
  ssm.on(GetParameterCommand, { Name: "/denied" }).rejects(denied);

  await readWarehouseSettings(client, P);
  await readWarehouseSettings(client, P);
  assert.is(await readTransactionIdKey(client, "/s"), "k".repeat(32));
  const calls = ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input);
  assert.equal(
    calls,
    [
      { Name: P, WithDecryption: true },
      { Name: "/s", WithDecryption: true },
    ],
    "each parameter read once, decrypted",
  );

  const failure = (p: Promise<unknown>) =>
    p.then(
      () => "",
      (e: Error) => e.message,
    );
  assert.is(await failure(readWarehouseSettings(client, "/missing")), 'SSM parameter "/missing" does not exist (ParameterNotFound)');
  assert.match(await failure(readWarehouseSettings(client, "/denied")), /^SSM parameter "\/denied" could not be read: AccessDeniedException/);
  assert.is(await failure(readTransactionIdKey(client, "/empty")), 'SSM parameter "/empty" is empty');
  assert.match(await failure(readTransactionIdKey(client, "/short")), /"\/short" is too weak for an HMAC key: it holds \d+ characters/);
  await failure(readWarehouseSettings(client, "/missing"));
  assert.is(ssm.commandCalls(GetParameterCommand, { Name: "/missing" }).length, 2, "failures are not cached");
  ssm.restore();
});

test.run();
