// grafana/host/sync.sh, the script the Grafana host runs every minute, run for real (bash, curl, jq)
// against a stand-in Grafana HTTP API and a stand-in `aws` CLI (S3 objects and SSM parameters as
// files). Shows: viewers from the settings become Viewer accounts with their parameter's password,
// a login removed from the list loses its account, nothing happens while VERSION is unchanged, a
// dashboard change is synced without restarting Grafana, and every connection shape yields the
// reader's data source, never the loader's user. Run alone: node --import tsx tests/grafana-host-sync.test.ts
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { REPO_ROOT } from "../infra/bundle.js";
import { readGrafanaAssets } from "../infra/grafana-assets.js";

const tools = ["bash", "curl", "jq"].filter((t) => spawnSync("which", [t]).status !== 0);
if (tools.length) {
  console.log(`[skip] host sync script: ${tools.join(", ")} not installed`);
  test.skip("host sync script", () => {});
  test.run();
} else {
  const ADMIN_PASSWORD = "AdminPw1";
  interface User {
    id: number;
    login: string;
    email: string;
    name: string;
    password: string;
    role: string;
  }
  const users = new Map<number, User>([[1, { id: 1, login: "admin", email: "admin@localhost", name: "admin", password: ADMIN_PASSWORD, role: "Admin" }]]);
  let nextId = 2;
  const calls: string[] = [];

  const body = (req: IncomingMessage): Promise<any> =>
    new Promise((resolve) => {
      let text = "";
      req.on("data", (d) => (text += d));
      req.on("end", () => resolve(text ? JSON.parse(text) : {}));
    });
  const auth = (req: IncomingMessage): User | undefined => {
    const m = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
    if (!m) return undefined;
    const [login, ...rest] = Buffer.from(m[1]!, "base64").toString().split(":");
    const user = [...users.values()].find((u) => u.login === login);
    return user && user.password === rest.join(":") ? user : undefined;
  };
  const server: Server = createServer(async (req, res) => {
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    const path = (req.url ?? "").split("?")[0]!;
    if (path === "/api/health") return send(200, { database: "ok" });
    calls.push(`${req.method} ${path}`);
    const who = auth(req);
    if (!who) return send(401, { message: "Unauthorized" });
    if (path === "/api/user" && req.method === "GET") return send(200, { login: who.login });
    if (who.role !== "Admin") return send(403, { message: "Permission denied" });
    const id = Number(/\/(\d+)(\/password)?$/.exec(path)?.[1]);
    const data = await body(req);
    if (req.method === "GET" && path === "/api/users")
      return send(
        200,
        [...users.values()].map(({ id, login, email, name }) => ({ id, login, email, name, isAdmin: id === 1 })),
      );
    if (req.method === "POST" && path === "/api/admin/users") {
      if ([...users.values()].some((u) => u.login === data.login)) return send(412, { message: "user already exists" });
      const user = { id: nextId++, login: data.login, email: data.email, name: data.name, password: data.password, role: "Viewer" };
      users.set(user.id, user);
      return send(200, { id: user.id, message: "User created" });
    }
    const user = users.get(id);
    if (!user) return send(404, { message: "user not found" });
    if (req.method === "PUT" && path.endsWith("/password")) return ((user.password = data.password), send(200, {}));
    if (req.method === "PUT" && path.startsWith("/api/users/"))
      return (Object.assign(user, { login: data.login, email: data.email, name: data.name }), send(200, {}));
    if (req.method === "PATCH" && path.startsWith("/api/orgs/1/users/")) return ((user.role = data.role), send(200, {}));
    if (req.method === "DELETE" && path.startsWith("/api/admin/users/")) return (users.delete(id), send(200, {}));
    send(404, { message: `no route ${req.method} ${path}` });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const grafanaUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // The host's file system, the bucket and the parameters.
  const work = mkdtempSync(join(tmpdir(), "coffeetl-host-"));
  const root = join(work, "opt");
  const bucket = join(work, "bucket");
  const params = join(work, "params");
  const bin = join(work, "bin");
  for (const d of [root, bucket, params, bin]) mkdirSync(d, { recursive: true });
  writeFileSync(join(root, "host.env"), "COFFEETL_REGION='eu-west-2'\nCOFFEETL_BUCKET='assets-bucket'\n");
  const fake = (name: string, script: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\nset -euo pipefail\n${script}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  fake(
    "aws",
    `echo "aws $*" >> "${work}/aws.log"
case "$1 $2" in
  "s3api head-object") echo "\\"$(md5sum "${bucket}/grafana/VERSION" | cut -d' ' -f1)\\"" ;;
  "s3 sync") dest="\${@: -1}"; rm -rf "$dest"; mkdir -p "$dest"; cp -r "${bucket}/grafana/." "$dest" ;;
  "ssm get-parameter") cat "${params}$4" ;;
  *) echo "unexpected aws $*" >&2; exit 2 ;;
esac`,
  );
  fake("systemctl", `echo "systemctl $*" >> "${work}/systemctl.log"`);
  fake("docker", `echo "docker $*" >> "${work}/docker.log"`);

  const param = (name: string, value: string) => {
    mkdirSync(dirname(join(params, name)), { recursive: true });
    writeFileSync(join(params, name), value);
  };
  param("/coffeetl/t/grafana-admin-password", ADMIN_PASSWORD);
  param("/coffeetl/t/grafana/origin-secret", "OriginSecret123");
  param("/coffeetl/t/grafana/viewers/jo", "JoPassword1");
  param("/coffeetl/t/grafana/viewers/sam", "SamPassword1");

  let version = 0;
  const publish = (options: { viewers: string[]; connection: Record<string, string>; salesTitle?: string }) => {
    rmSync(join(bucket, "grafana"), { recursive: true, force: true });
    for (const file of readGrafanaAssets(join(REPO_ROOT, "grafana"), { stack: "t" }).files) {
      const target = join(bucket, "grafana", file.path);
      mkdirSync(dirname(target), { recursive: true });
      let content = file.content;
      if (options.salesTitle && file.path === "dashboards/sales.json") content = JSON.stringify({ ...JSON.parse(content), title: options.salesTitle });
      writeFileSync(target, content);
    }
    param("/coffeetl/t/redshift", JSON.stringify(options.connection));
    const settings = {
      stack: "t",
      rootUrl: "https://d111.cloudfront.net/",
      image: "grafana/grafana:12.4.0",
      plugins: "grafana-redshift-datasource",
      warehouseParameter: "/coffeetl/t/redshift",
      readerDbUser: "coffeetl_grafana",
      adminPasswordParameter: "/coffeetl/t/grafana-admin-password",
      originSecretParameter: "/coffeetl/t/grafana/origin-secret",
      viewers: options.viewers.map((login) => ({ login, email: `${login}@client.example`, passwordParameter: `/coffeetl/t/grafana/viewers/${login}` })),
    };
    writeFileSync(join(bucket, "grafana/settings.json"), JSON.stringify(settings));
    writeFileSync(join(bucket, "grafana/VERSION"), `${++version}\n`);
  };
  const sync = (): Promise<{ code: number; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn("bash", [join(REPO_ROOT, "grafana/host/sync.sh")], {
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          COFFEETL_ROOT: root,
          COFFEETL_NGINX_CONF: join(work, "nginx.conf"),
          COFFEETL_GRAFANA_URL: grafanaUrl,
        },
      });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", (code) => resolve({ code: code ?? -1, stderr }));
    });
  const read = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : "");
  const restarts = () =>
    read(join(work, "systemctl.log"))
      .split("\n")
      .filter((l) => l.includes("restart coffeetl-grafana")).length;
  const viewers = () =>
    [...users.values()]
      .filter((u) => u.id !== 1)
      .map((u) => `${u.login}:${u.role}:${u.password}`)
      .sort();
  const env = () => read(join(root, "state/grafana.env"));
  const SERVERLESS = { workgroupName: "coffeetl-t", database: "sales", copyRoleArn: "arn:aws:iam::123456789012:role/copy" };
  const BOOTCAMP = {
    host: "acme-dw.abc123.eu-west-2.redshift.amazonaws.com",
    port: "5439",
    "database-name": "dev",
    user: "loader",
    password: "x",
    copyRoleArn: SERVERLESS.copyRoleArn,
  };

  test.after(() => {
    server.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("first apply: viewers become Viewer accounts with their parameters' passwords; Serverless data source; origin check; Grafana started", async () => {
    publish({ viewers: ["jo", "sam"], connection: SERVERLESS });
    const run = await sync();
    assert.is(run.code, 0, run.stderr);
    assert.equal(viewers(), ["jo:Viewer:JoPassword1", "sam:Viewer:SamPassword1"]);
    assert.is(restarts(), 1);
    assert.match(env(), /^REDSHIFT_WORKGROUP_NAME=coffeetl-t$/m);
    assert.match(env(), /^REDSHIFT_DATABASE=sales$/m);
    assert.match(env(), /^COFFEETL_STACK=t$/m);
    assert.match(env(), /^GF_SERVER_ROOT_URL=https:\/\/d111\.cloudfront\.net\/$/m);
    for (const off of [
      "GF_USERS_ALLOW_SIGN_UP=false",
      "GF_AUTH_ANONYMOUS_ENABLED=false",
      "GF_SNAPSHOTS_EXTERNAL_ENABLED=false",
      "GF_PUBLIC_DASHBOARDS_ENABLED=false",
      "GF_SECURITY_COOKIE_SECURE=true",
    ])
      assert.ok(env().includes(off), off);
    assert.not.ok(env().includes(ADMIN_PASSWORD), "the admin password is in a file, not the environment");
    assert.match(read(join(root, "state/provisioning/datasources/redshift.yaml")), /useServerless: true/);
    assert.match(read(join(work, "nginx.conf")), /if \(\$http_x_coffeetl_origin != "OriginSecret123"\) \{ return 403; \}/);
    assert.is(read(join(root, "secrets/grafana_admin_password")), ADMIN_PASSWORD);
    assert.not.match(read(join(work, "aws.log")), /Password1|AdminPw1/, "no secret on a command line");
  });

  test("nothing changed: one HEAD, no API call, no restart", async () => {
    const before = calls.length;
    const run = await sync();
    assert.is(run.code, 0, run.stderr);
    assert.is(calls.length, before);
    assert.is(restarts(), 1);
  });

  test("a dashboard change is synced without restarting Grafana or touching accounts", async () => {
    publish({ viewers: ["jo", "sam"], connection: SERVERLESS, salesTitle: "Sales (edited)" });
    const run = await sync();
    assert.is(run.code, 0, run.stderr);
    assert.is(JSON.parse(read(join(root, "grafana/dashboards/sales.json"))).title, "Sales (edited)");
    assert.is(restarts(), 1, "Grafana re-reads dashboards itself");
    assert.not.ok(
      calls.some((c) => c.startsWith("PUT /api/admin/users")),
      "valid passwords are not reset",
    );
    assert.equal(viewers(), ["jo:Viewer:JoPassword1", "sam:Viewer:SamPassword1"]);
  });

  test("a viewer removed from the list loses the account; a changed password is applied; bootcamp host shape reads as the reader", async () => {
    users.get(2)!.role = "Editor"; // drift on the host is put back
    param("/coffeetl/t/grafana/viewers/jo", "JoPassword2");
    publish({ viewers: ["jo"], connection: BOOTCAMP });
    const run = await sync();
    assert.is(run.code, 0, run.stderr);
    assert.equal(viewers(), ["jo:Viewer:JoPassword2"]);
    assert.ok(users.has(1), "admin stays");
    assert.match(env(), /^REDSHIFT_CLUSTER_IDENTIFIER=acme-dw$/m);
    assert.match(env(), /^REDSHIFT_DATABASE=dev$/m);
    assert.match(env(), /^REDSHIFT_DB_USER=coffeetl_grafana$/m, "the reader's own user, never the loader's");
    assert.not.match(env(), /loader/);
    assert.match(read(join(root, "state/provisioning/datasources/redshift.yaml")), /useServerless: false/);
    assert.is(restarts(), 2, "a new data source restarts Grafana");
  });

  test("provisioned dbUser and secretArn shapes: the reader user; a readerDbUser that IAM does not allow is refused", async () => {
    const shapes: Record<string, string>[] = [{ dbUser: "loader" }, { secretArn: "arn:aws:secretsmanager:eu-west-2:123456789012:secret:loader" }];
    for (const shape of shapes) {
      publish({ viewers: ["jo"], connection: { clusterIdentifier: "acme-dw", database: "analytics", copyRoleArn: SERVERLESS.copyRoleArn, ...shape } });
      const run = await sync();
      assert.is(run.code, 0, run.stderr);
      assert.match(env(), /^REDSHIFT_CLUSTER_IDENTIFIER=acme-dw$/m);
      assert.match(env(), /^REDSHIFT_DB_USER=coffeetl_grafana$/m);
      assert.not.match(env(), /loader/);
    }
    publish({
      viewers: ["jo"],
      connection: { clusterIdentifier: "acme-dw", database: "analytics", dbUser: "loader", readerDbUser: "someone_else", copyRoleArn: SERVERLESS.copyRoleArn },
    });
    const run = await sync();
    assert.is.not(run.code, 0);
    assert.match(run.stderr, /readerDbUser \(someone_else\) is not coffeetl:grafanaReaderDbUser \(coffeetl_grafana\)/);
  });

  test.run();
}
