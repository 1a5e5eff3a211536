// systemctl on the test host (tests/host/namespace-driver.ts): `restart coffeetl-grafana.service` does
// what systemd and the unit's `docker run` would: reads the unit's EnvironmentFile, checks that the
// unit passes the same file to the container, takes the unit's volume mounts, and starts the Grafana
// stand-in as uid 472 (gid 0, Grafana's image user) with them; then waits for its health check.
// Every other command (enable, reload-or-restart nginx, daemon-reload) succeeds and does nothing.
// Usage: node systemctl-standin.mjs WORK ARGS...
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [work, ...args] = process.argv.slice(2);
process.umask(0o022); // systemd's, not the caller's
if (args[0] === "restart" && args[1] === "coffeetl-grafana.service") {
  const unit = readFileSync("/etc/systemd/system/coffeetl-grafana.service", "utf8").replace(/\\\n/g, " ");
  const envFile = /^EnvironmentFile=(\S+)$/m.exec(unit)?.[1];
  const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? "";
  if (!envFile || !execStart.includes(`--env-file ${envFile}`)) fail("the unit's EnvironmentFile is not the container's --env-file");
  const env = Object.fromEntries(
    readFileSync(envFile, "utf8")
      .split("\n")
      .filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  if (!execStart.includes("${COFFEETL_IMAGE}") || !env.COFFEETL_IMAGE) fail("no image: COFFEETL_IMAGE is empty");
  const mounts = [...execStart.matchAll(/-v (\S+?):(\S+?)(?::ro)?(?=\s)/g)].map((m) => ({ src: m[1], dst: m[2] }));
  const pidFile = join(work, "grafana.pid");
  if (existsSync(pidFile)) spawnSync("kill", [readFileSync(pidFile, "utf8").trim()]);
  // The stand-in's own outputs, which uid 472 appends to.
  for (const f of ["grafana.log", "calls.log"])
    if (!existsSync(join(work, f))) {
      writeFileSync(join(work, f), "");
      chmodSync(join(work, f), 0o666);
    }
  const config = join(work, "grafana-config.json");
  writeFileSync(config, JSON.stringify({ mounts, env, report: join(work, "grafana.log"), calls: join(work, "calls.log") }));
  const out = openSync(join(work, "grafana.out"), "a");
  const child = spawn(
    "setpriv",
    ["--reuid=472", "--regid=0", "--clear-groups", process.execPath, join(new URL(".", import.meta.url).pathname, "grafana-standin.mjs"), config],
    {
      detached: true,
      stdio: ["ignore", out, out],
      env: { ...env, PATH: process.env.PATH },
    },
  );
  writeFileSync(pidFile, String(child.pid));
  child.unref();
  for (let i = 0; i < 100; i++) {
    const r = spawnSync("/usr/bin/curl", ["-fsS", "-o", "/dev/null", "--max-time", "1", "http://127.0.0.1:3000/api/health"]);
    if (r.status === 0) process.exit(0);
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  fail("Grafana did not come up (see grafana.out)");
}

function fail(message) {
  console.error(`systemctl stand-in: ${message}`);
  process.exit(1);
}
