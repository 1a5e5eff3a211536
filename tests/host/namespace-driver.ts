// Runs inside `unshare -m -n --propagation private` (root), started by tests/grafana-host-deployed.test.ts.
// In this private mount and network namespace, /etc, /opt, /var/lib and /usr/local/bin are copies or
// empty folders of the test's own, so the host's user data and grafana/host/sync.sh run for real
// without touching the machine. The user data's own lines write host.env and the systemd units; the
// sync unit is then run as systemd runs it (its ExecStartPre and ExecStart, `env -i` with systemd's
// PATH, umask 0022). Stand-ins sit only at the edges, in /usr/local/bin (first on systemd's PATH): the
// AWS CLI (bucket and parameters as files), docker, systemctl (which starts the Grafana stand-in as
// uid 472 with the unit's environment file and mounts). jq, curl and the coreutils the script uses are
// the real ones, behind pass-through shims that record every argument vector. Writes report.json.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const work = process.argv[2]!;
const bucketName = process.argv[3]!;
const here = new URL(".", import.meta.url).pathname;
const NODE = process.execPath;
const SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const argvLog = join(work, "argv.log");

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();

// A network of our own: Grafana's loopback port 3000 is free whatever runs on the machine.
run("ip", ["link", "set", "lo", "up"]);
for (const [copy, target] of [
  [join(work, "etc"), "/etc"],
  [join(work, "opt"), "/opt"],
  [join(work, "varlib"), "/var/lib"],
  [join(work, "bin"), "/usr/local/bin"],
] as const) {
  if (target === "/etc") run("cp", ["-a", "/etc", copy]);
  else mkdirSync(copy, { recursive: true });
  run("mount", ["--bind", copy, target]);
}
// What `dnf install nginx` leaves: the folder the sync writes nginx.conf into.
mkdirSync("/etc/nginx", { recursive: true });

// Stand-ins and recording shims.
const script = (name: string, text: string) => {
  writeFileSync(join("/usr/local/bin", name), text);
  chmodSync(join("/usr/local/bin", name), 0o755);
};
const record = `printf '%s\\0' "\${0##*/}" "$@" $'\\036' >> ${argvLog}`;
for (const tool of ["jq", "curl", "cat", "cp", "mv", "rm", "install", "chown", "chmod", "cmp", "diff", "seq", "sleep", "mkdir"]) {
  const real = run("bash", ["-c", `PATH=/usr/bin:/bin command -v ${tool}`]).trim();
  script(tool, `#!/bin/bash\n${record}\nexec ${real} "$@"\n`);
}
script(
  "aws",
  `#!/bin/bash
# The AWS CLI: the assets bucket ${bucketName} is ${work}/bucket, parameters are files under ${work}/params.
set -euo pipefail
${record}
bucket=${work}/bucket
s3path() { case "$1" in s3://${bucketName}/*) printf '%s' "$bucket/\${1#s3://${bucketName}/}" ;; *) echo "An error occurred (NoSuchBucket): $1" >&2; exit 254 ;; esac; }
arg() { local name=$1; shift; while [ $# -gt 0 ]; do if [ "$1" = "$name" ]; then printf '%s' "$2"; return; fi; shift; done; }
# Downloads as the CLI writes them: open() under the caller's umask, then rename.
download() { /usr/bin/mkdir -p "$(dirname "$2")"; /usr/bin/cat "$1" > "$2.part"; /usr/bin/mv -f "$2.part" "$2"; }
case "$1 $2" in
  "s3api head-object")
    [ "$(arg --bucket "$@")" = ${bucketName} ] || { echo "An error occurred (404) when calling the HeadObject operation: Not Found" >&2; exit 254; }
    printf '"%s"\\n' "$(/usr/bin/md5sum < "$bucket/$(arg --key "$@")" | /usr/bin/cut -c1-32)" ;;
  "s3 sync")
    src=$(s3path "\${@: -2:1}"); dest=\${@: -1}; /usr/bin/mkdir -p "$dest"
    (cd "$src" && /usr/bin/find . -type f) | while read -r f; do download "$src/$f" "$dest/$f"; done
    (cd "$dest" && /usr/bin/find . -type f) | while read -r f; do [ -e "$src/$f" ] || /usr/bin/rm -f "$dest/$f"; done ;;
  "s3 cp") download "$(s3path "\${@: -2:1}")" "\${@: -1}" ;;
  "ssm get-parameter") /usr/bin/cat "${work}/params$(arg --name "$@")"; echo ;;
  *) echo "aws stand-in: unexpected $*" >&2; exit 2 ;;
esac
`,
);
script(
  "docker",
  `#!/bin/bash
set -euo pipefail
${record}
if [ "$*" = "exec -i grafana grafana cli admin reset-admin-password --password-from-stdin" ]; then
  /usr/bin/curl -fsS -o /dev/null --data-binary @- http://127.0.0.1:3000/__standin/admin-password
fi
`,
);
script("systemctl", `#!/bin/bash\n${record}\nexec ${NODE} ${join(here, "systemctl-standin.mjs")} ${work} "$@"\n`);

// The user data's own lines, as the host runs them: host.env, Grafana's data folder, the units.
const userData = readFileSync(join(work, "user-data.sh"), "utf8");
const pick = (re: RegExp) => {
  const found = userData.match(re);
  if (!found) throw new Error(`user data has no ${re}`);
  return found.join("\n");
};
const lines = [
  pick(/^install -d -m 0755 \/opt\/coffeetl$/m),
  pick(/^cat > \/opt\/coffeetl\/host\.env <<ENV\n[\s\S]*?\nENV$/m),
  pick(/^install -d -m 0755 \/var\/lib\/coffeetl-grafana$/m),
  pick(/^chown 472:0 \/var\/lib\/coffeetl-grafana$/m),
  pick(/^cat > \/etc\/systemd\/system\/\S+ <<'UNIT'\n[\s\S]*?\nUNIT$/gm),
].join("\n");
execFileSync("bash", ["-euo", "pipefail", "-c", lines], { stdio: "inherit" });

/** A unit's command lines, split as systemd splits them (quotes; `\` at the end of a line continues it). */
function unitCommands(unit: string, key: string): string[][] {
  const text = unit.replace(/\\\n/g, " ");
  return [...text.matchAll(new RegExp(`^${key}=-?(.*)$`, "gm"))].map((m) => {
    const args: string[] = [];
    let cur = "";
    let quote = "";
    let has = false;
    for (const c of m[1]!) {
      if (quote) {
        if (c === quote) quote = "";
        else cur += c;
      } else if (c === "'" || c === '"') {
        quote = c;
        has = true;
      } else if (/\s/.test(c)) {
        if (cur || has) args.push(cur);
        cur = "";
        has = false;
      } else cur += c;
    }
    if (cur || has) args.push(cur);
    return args;
  });
}

const syncUnit = readFileSync("/etc/systemd/system/coffeetl-grafana-sync.service", "utf8");
/** One start of coffeetl-grafana-sync.service. */
function startSyncUnit() {
  process.umask(0o022);
  for (const command of [...unitCommands(syncUnit, "ExecStartPre"), ...unitCommands(syncUnit, "ExecStart")]) {
    const r = spawnSync("env", ["-i", `PATH=${SYSTEMD_PATH}`, ...command], { encoding: "utf8", timeout: 120_000 });
    if (r.status !== 0) return { code: r.status ?? -1, stderr: `${command.join(" ")}: ${r.stderr}` };
  }
  return { code: 0, stderr: "" };
}

function snapshot(...roots: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string) => {
    const s = lstatSync(path);
    const kind = s.isDirectory() ? "d" : s.isSymbolicLink() ? "l" : "f";
    const hash = kind === "f" ? createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 16) : "";
    out[path] = `${kind} ${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid} ${hash}`;
    if (kind === "d") for (const name of readdirSync(path).sort()) walk(join(path, name));
  };
  for (const root of roots) if (existsSync(root)) walk(root);
  return out;
}

/** What uid 472 (gid 0, as in Grafana's image) cannot read under each folder the Grafana unit mounts. */
function unreadableByGrafana(): string[] {
  const unit = readFileSync("/etc/systemd/system/coffeetl-grafana.service", "utf8");
  const sources = [...unit.matchAll(/-v (\S+?):\S+/g)].map((m) => m[1]!);
  const out: string[] = [];
  for (const src of sources) {
    const r = spawnSync(
      "setpriv",
      ["--reuid=472", "--regid=0", "--clear-groups", "find", src, "(", "-type", "d", "!", "-executable", ")", "-o", "!", "-readable", "-print"],
      { encoding: "utf8" },
    );
    out.push(...r.stdout.split("\n").filter(Boolean), ...r.stderr.split("\n").filter(Boolean));
  }
  return [`mounts: ${sources.join(" ")}`, ...out];
}

const state = () => ({
  files: snapshot("/opt/coffeetl", "/etc/nginx", "/var/lib/coffeetl-grafana"),
  db: existsSync("/var/lib/coffeetl-grafana/grafana.db.json") ? readFileSync("/var/lib/coffeetl-grafana/grafana.db.json", "utf8") : "",
  calls: existsSync(join(work, "calls.log")) ? readFileSync(join(work, "calls.log"), "utf8").split("\n").filter(Boolean) : [],
  systemctl: readFileSync(argvLog, "utf8")
    .split("\u001e")
    .filter((r) => r.replace(/^\0/, "").startsWith("systemctl\0")).length,
});

const report: Record<string, unknown> = { runs: [] };
const runs = report.runs as unknown[];
try {
  runs.push({ ...startSyncUnit(), ...state() });
  report.unreadable = unreadableByGrafana();
  report.nginx = existsSync("/etc/nginx/nginx.conf") ? readFileSync("/etc/nginx/nginx.conf", "utf8") : "";
  report.grafanaEnv = existsSync("/opt/coffeetl/state/grafana.env") ? readFileSync("/opt/coffeetl/state/grafana.env", "utf8") : "";
  // The timer's next run: nothing changed in the bucket.
  runs.push({ ...startSyncUnit(), ...state() });
  // A full apply of the same version (as after a reboot): applies everything again, changes nothing.
  run("rm", ["-f", "/opt/coffeetl/state/applied-etag"]);
  runs.push({ ...startSyncUnit(), ...state() });
} finally {
  const pid = join(work, "grafana.pid");
  if (existsSync(pid)) spawnSync("kill", [readFileSync(pid, "utf8").trim()]);
  report.argv = readFileSync(argvLog, "utf8")
    .split("\u001e")
    .map((r) =>
      r
        .replace(/^\0/, "")
        .split("\0")
        .filter((_, i, a) => i < a.length - 1),
    )
    .filter((a) => a.length);
  report.grafana = existsSync(join(work, "grafana.log"))
    ? readFileSync(join(work, "grafana.log"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
  writeFileSync(join(work, "report.json"), JSON.stringify(report, null, 1));
}
