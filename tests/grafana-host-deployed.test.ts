// The Grafana host as it is deployed: the user data rendered by renderGrafanaUserData, its host.env
// and systemd units written by its own lines, and the sync unit run as systemd runs it (`env -i`,
// systemd's PATH, nothing from this process), in a private mount and network namespace (unshare) so
// it writes /etc/nginx/nginx.conf and /opt/coffeetl for real without touching the machine. Stand-ins
// only at the edges: the AWS CLI, docker, systemctl (which starts a Grafana stand-in as uid 472 with
// the unit's mounts) and Grafana's HTTP API. See tests/host/namespace-driver.ts.
// Shows: nginx configured, Grafana started and reading both dashboards, the viewers created,
// everything the Grafana unit mounts readable by uid 472, no secret in any program's arguments, and
// a second run (and a full re-apply) changes nothing. Run alone: node --import tsx tests/grafana-host-deployed.test.ts
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { REPO_ROOT } from "../infra/bundle.js";
import { DEFAULT_GRAFANA_PLUGINS } from "../infra/grafana-config.js";
import { readGrafanaAssets } from "../infra/grafana-assets.js";
import { renderGrafanaUserData } from "../infra/grafana-user-data.js";

const missing = ["unshare", "setpriv", "ip", "jq", "curl", "find"].filter((t) => spawnSync("which", [t]).status !== 0);
const why = process.getuid?.() !== 0 ? "needs root (unshare -m)" : missing.length ? `${missing.join(", ")} not installed` : undefined;
const probe = why ? undefined : spawnSync("unshare", ["-m", "-n", "--propagation", "private", "true"]);
const skip = why ?? (probe && probe.status !== 0 ? `unshare -m -n is not permitted here (${probe.stderr.toString().trim()})` : undefined);

if (skip) {
  console.log(`[skip] Grafana host as deployed: ${skip}`);
  test.skip("Grafana host as deployed", () => {});
} else {
  const BUCKET = "coffeetl-t-grafana-20261205abc";
  const SECRETS = { admin: "AdminPw7Qx93", origin: "OriginSecret5Tz81", jo: "JoPassword4Kd20", sam: "SamPassword9Lm33" };
  const work = mkdtempSync(join(tmpdir(), "coffeetl-host-deployed-"));
  chmodSync(work, 0o755); // the Grafana stand-in (uid 472) writes its report here

  writeFileSync(
    join(work, "user-data.sh"),
    renderGrafanaUserData({ region: "eu-west-2", assetsBucket: BUCKET, dataVolumeId: "vol-0123456789abcdef0", stack: "t" }),
  );
  const put = (path: string, content: string) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  };
  for (const file of readGrafanaAssets(join(REPO_ROOT, "grafana"), { stack: "t" }).files) put(join(work, "bucket/grafana", file.path), file.content);
  // settings.json with the fields infra/grafana.ts writes (names, never values).
  const viewers = ["jo", "sam"].map((login) => ({ login, email: `${login}@client.example`, passwordParameter: `/coffeetl/t/grafana/viewers/${login}` }));
  put(
    join(work, "bucket/grafana/settings.json"),
    JSON.stringify({
      stack: "t",
      rootUrl: "https://d111.cloudfront.net/",
      image: "grafana/grafana:12.4.0",
      plugins: DEFAULT_GRAFANA_PLUGINS,
      warehouseParameter: "/coffeetl/t/redshift",
      readerDbUser: "coffeetl_grafana",
      adminPasswordParameter: "/coffeetl/t/grafana-admin-password",
      originSecretParameter: "/coffeetl/t/grafana/origin-secret",
      viewers,
    }),
  );
  put(join(work, "bucket/grafana/VERSION"), "v1\n");
  put(join(work, "params/coffeetl/t/grafana-admin-password"), SECRETS.admin);
  put(join(work, "params/coffeetl/t/grafana/origin-secret"), SECRETS.origin);
  put(join(work, "params/coffeetl/t/grafana/viewers/jo"), SECRETS.jo);
  put(join(work, "params/coffeetl/t/grafana/viewers/sam"), SECRETS.sam);
  put(
    join(work, "params/coffeetl/t/redshift"),
    JSON.stringify({ workgroupName: "coffeetl-t", database: "sales", copyRoleArn: "arn:aws:iam::123456789012:role/copy" }),
  );

  const driver = spawnSync(
    "unshare",
    ["-m", "-n", "--propagation", "private", process.execPath, "--import", "tsx", join(REPO_ROOT, "tests/host/namespace-driver.ts"), work, BUCKET],
    {
      cwd: REPO_ROOT,
      encoding: "utf8",
      timeout: 300_000,
    },
  );
  let report: any;
  try {
    report = JSON.parse(readFileSync(join(work, "report.json"), "utf8"));
  } catch {
    report = undefined;
  }
  test.after(() => (process.env.COFFEETL_KEEP_WORK ? console.log(`kept ${work}`) : rmSync(work, { recursive: true, force: true })));

  test("the sync unit, run as systemd runs it with the rendered host.env only, succeeds", () => {
    assert.ok(report, `no report from the namespace driver: ${driver.stderr}`);
    assert.is(report.runs[0].code, 0, report.runs[0].stderr);
  });

  test("nginx is configured with the origin check in front of Grafana", () => {
    assert.match(report.nginx, /listen 80 default_server;/);
    assert.ok(report.nginx.includes(`if ($http_x_coffeetl_origin != "${SECRETS.origin}") { return 403; }`));
    assert.match(report.nginx, /proxy_pass http:\/\/127\.0\.0\.1:3000;/);
    assert.is(report.runs[0].files["/etc/nginx/nginx.conf"].split(" ")[1], "600", "the origin secret stays root's");
  });

  test("Grafana is started by the unit and reads its password, data sources and every CoffeETL dashboard as uid 472", () => {
    const started = report.grafana.filter((r: any) => r.started);
    assert.is(started.length, 1, JSON.stringify(report.grafana));
    assert.is(started[0].uid, 472);
    assert.equal(started[0].errors, [], "nothing Grafana reads at start is unreadable");
    const titles = readdirSync(join(REPO_ROOT, "grafana/dashboards"))
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(join(REPO_ROOT, "grafana/dashboards", f), "utf8")).title)
      .sort();
    assert.equal(started[0].dashboards.map((d: any) => d.title).sort(), titles);
    assert.ok(started[0].datasources.includes("grafana-redshift-datasource"));
    assert.match(report.grafanaEnv, /^REDSHIFT_WORKGROUP_NAME=coffeetl-t$/m);
    assert.match(report.grafanaEnv, /^GF_PLUGINS_PREINSTALL_SYNC=grafana-redshift-datasource@\d+\.\d+\.\d+$/m, "the plugin is pinned");
    assert.match(report.grafanaEnv, /^GF_DASHBOARDS_MIN_REFRESH_INTERVAL=1h$/m, "no viewer refreshes faster than hourly");
  });

  test("everything the Grafana unit mounts is readable by uid 472", () => {
    const [mounts, ...unreadable] = report.unreadable as string[];
    assert.is(mounts!.split(" ").length - 1, 4, mounts);
    assert.equal(unreadable, []);
  });

  test("the viewers are Viewer accounts with their parameters' passwords", () => {
    const db = JSON.parse(report.runs[0].db);
    const accounts = db.users
      .filter((u: any) => u.login !== "admin")
      .map((u: any) => `${u.login}:${u.email}:${u.role}:${u.password}`)
      .sort();
    assert.equal(accounts, [`jo:jo@client.example:Viewer:${SECRETS.jo}`, `sam:sam@client.example:Viewer:${SECRETS.sam}`]);
    assert.is(db.users.find((u: any) => u.login === "admin").password, SECRETS.admin);
  });

  test("no secret is ever an argument of a program (every aws, docker, systemctl, jq, curl, cat, ... call recorded)", () => {
    const calls: string[][] = report.argv;
    const tools = new Set(calls.map((c) => c[0]));
    for (const tool of ["aws", "jq", "curl", "systemctl"]) assert.ok(tools.has(tool), `${tool} was recorded`);
    for (const call of calls) {
      for (const [name, secret] of Object.entries(SECRETS))
        assert.not.ok(
          call.some((a) => a.includes(secret)),
          `the ${name} secret is on the command line: ${call.join(" ")}`,
        );
    }
  });

  test("a second run changes nothing; a full re-apply of the same version changes nothing either", () => {
    const [first, second, third] = report.runs;
    for (const run of [second, third]) {
      assert.is(run.code, 0, run.stderr);
      assert.equal(run.files, first.files);
      assert.is(run.db, first.db, "accounts unchanged");
      assert.is(run.systemctl, first.systemctl, "no restart or reload");
    }
    assert.equal(second.calls, first.calls, "the unchanged version makes no API call");
    assert.ok(third.calls.length > first.calls.length, "the re-apply did go through the accounts");
    assert.is(report.grafana.filter((r: any) => r.started).length, 1, "Grafana started once");
  });
}

test.run();
