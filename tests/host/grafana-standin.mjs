// A stand-in for the Grafana container, started by the systemctl stand-in the way the unit's
// `docker run` would start Grafana: as uid 472, with the unit's environment file and its volume
// mounts. It reads what Grafana reads at start (the admin password file, provisioning, the
// dashboards folder, its data folder) through those mounts, so a file uid 472 cannot read fails
// here as it fails in Grafana, and serves the HTTP API the sync uses. Plain ESM: no loader needed.
// Usage: node grafana-standin.mjs CONFIG.json   (config: { mounts: [{src, dst}], env: {...}, report })
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const report = (record) => appendFileSync(config.report, `${JSON.stringify({ uid: process.getuid(), ...record })}\n`);
/** A path inside the container to the host path behind it (longest mount first). */
const host = (path) => {
  const mount = [...config.mounts].sort((a, b) => b.dst.length - a.dst.length).find((m) => path === m.dst || path.startsWith(`${m.dst}/`));
  if (!mount) throw new Error(`${path} is not mounted into the container`);
  return mount.src + path.slice(mount.dst.length);
};
const errors = [];
const read = (path) => {
  try {
    return readFileSync(host(path), "utf8");
  } catch (error) {
    errors.push(`${path}: ${error.code ?? error.message}`);
    return undefined;
  }
};
const list = (path) => {
  try {
    return readdirSync(host(path)).sort();
  } catch (error) {
    errors.push(`${path}: ${error.code ?? error.message}`);
    return [];
  }
};

// Grafana's database, on the data volume: the admin password is applied only when it is created.
const dbPath = host("/var/lib/grafana") + "/grafana.db.json";
let db;
if (existsSync(dbPath)) db = JSON.parse(readFileSync(dbPath, "utf8"));
else {
  const password = read(config.env.GF_SECURITY_ADMIN_PASSWORD__FILE);
  if (password === undefined) {
    report({ started: false, errors });
    process.exit(1);
  }
  db = { nextId: 2, users: [{ id: 1, login: "admin", email: "admin@localhost", name: "admin", password: password.trim(), role: "Admin" }] };
}
const save = () => writeFileSync(dbPath, JSON.stringify(db));
save(); // a data folder uid 472 cannot write stops Grafana here

// Provisioning: data sources and dashboard providers, then each provider's folder.
const datasources = list("/etc/grafana/provisioning/datasources")
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => read(`/etc/grafana/provisioning/datasources/${f}`) ?? "");
const dashboards = [];
for (const f of list("/etc/grafana/provisioning/dashboards").filter((n) => n.endsWith(".yaml"))) {
  const provider = read(`/etc/grafana/provisioning/dashboards/${f}`) ?? "";
  for (const [, path] of provider.matchAll(/^\s*path:\s*(\S+)\s*$/gm)) {
    for (const file of list(path).filter((n) => n.endsWith(".json"))) {
      const text = read(join(path, file));
      if (text !== undefined) dashboards.push({ file, title: JSON.parse(text).title });
    }
  }
}
report({ started: true, errors, dashboards, datasources: datasources.map((d) => /type: (\S+)/.exec(d)?.[1]), env: Object.keys(config.env).sort() });

const body = (req) =>
  new Promise((resolve) => {
    let text = "";
    req.on("data", (d) => (text += d));
    req.on("end", () => resolve(text ? JSON.parse(text) : {}));
  });
const auth = (req) => {
  const m = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
  if (!m) return undefined;
  const [login, ...rest] = Buffer.from(m[1], "base64").toString().split(":");
  const user = db.users.find((u) => u.login === login);
  return user && user.password === rest.join(":") ? user : undefined;
};
createServer(async (req, res) => {
  const send = (status, value) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };
  const path = (req.url ?? "").split("?")[0];
  if (path === "/api/health") return send(200, { database: "ok" });
  appendFileSync(config.calls, `${req.method} ${path}\n`);
  if (path === "/__standin/admin-password" && req.method === "POST") {
    // `grafana cli admin reset-admin-password --password-from-stdin`, through the docker stand-in.
    let text = "";
    for await (const d of req) text += d;
    db.users[0].password = text.trim();
    save();
    return send(200, {});
  }
  const who = auth(req);
  if (!who) return send(401, { message: "Unauthorized" });
  if (path === "/api/user" && req.method === "GET") return send(200, { login: who.login });
  if (who.role !== "Admin") return send(403, { message: "Permission denied" });
  if (path === "/api/search" && req.method === "GET")
    return send(
      200,
      dashboards.map((d) => ({ title: d.title, type: "dash-db" })),
    );
  const id = Number(/\/(\d+)(\/password)?$/.exec(path)?.[1]);
  const data = await body(req);
  const done = (value) => (save(), send(200, value));
  if (req.method === "GET" && path === "/api/users")
    return send(
      200,
      db.users.map(({ id, login, email, name }) => ({ id, login, email, name })),
    );
  if (req.method === "POST" && path === "/api/admin/users") {
    if (db.users.some((u) => u.login === data.login || u.email === data.email)) return send(412, { message: "user already exists" });
    const user = { id: db.nextId++, login: data.login, email: data.email, name: data.name, password: data.password, role: "Viewer" };
    db.users.push(user);
    return done({ id: user.id, message: "User created" });
  }
  const user = db.users.find((u) => u.id === id);
  if (!user) return send(404, { message: "user not found" });
  if (req.method === "PUT" && path.endsWith("/password")) return ((user.password = data.password), done({}));
  if (req.method === "PUT" && path.startsWith("/api/users/")) return (Object.assign(user, { login: data.login, email: data.email, name: data.name }), done({}));
  if (req.method === "PATCH" && path.startsWith("/api/orgs/1/users/")) return ((user.role = data.role), done({}));
  if (req.method === "DELETE" && path.startsWith("/api/admin/users/")) return ((db.users = db.users.filter((u) => u.id !== id)), done({}));
  send(404, { message: `no route ${req.method} ${path}` });
}).listen(3000, "127.0.0.1");
