// `npm run demo`: `coffeetl demo` into a fresh ./.coffeetl-demo (the previous demo's home is removed).
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
rmSync(join(root, ".coffeetl-demo"), { recursive: true, force: true });
const result = spawnSync(process.execPath, [join(root, "bin/coffeetl.js"), "demo", "--home", ".coffeetl-demo"], { cwd: root, stdio: "inherit" });
process.exit(result.status ?? 1);
