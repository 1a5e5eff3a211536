// The Lambda bundles: deterministic, self-contained (AWS SDK included), loadable as ES modules on
// Node with a `handler` export. Run alone: node --import tsx tests/infra-bundle.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isBuiltin } from "node:module";
import { pathToFileURL } from "node:url";
import { bundleHandler, LAMBDA_HANDLER, LAMBDA_RUNTIME } from "../infra/bundle.js";
import { readGrafanaAssets } from "../infra/grafana-assets.js";

const ENTRIES = ["functions/extract-transform/handler.ts", "functions/load/handler.ts", "functions/upload-check/handler.ts"];
const dir = mkdtempSync(join(tmpdir(), "coffeetl-bundle-"));

for (const entry of ENTRIES) {
  test(`${entry}: same code, same bundle (no diff on an unchanged handler)`, () => {
    const a = bundleHandler(entry);
    const b = bundleHandler(entry);
    assert.is(a.sha256, b.sha256);
    assert.equal(Object.keys(a.files).sort(), ["index.mjs", "index.mjs.map"]);
    assert.equal(a.files, b.files);
    assert.not.match(a.files["index.mjs.map"]!, new RegExp(process.cwd().replace(/[/\\]/g, ".")), "no machine paths in the source map");
  });

  test(`${entry}: self-contained ES module exporting handler`, async () => {
    const { files } = bundleHandler(entry);
    const code = files["index.mjs"]!;
    assert.not.match(code, /from\s+["']@aws-sdk\//, "the AWS SDK is bundled, not imported from the runtime");
    const imports = [...code.matchAll(/^import\s[^;]*?from\s*"([^"]+)";?$/gm)].map((m) => m[1]!);
    assert.ok(imports.length > 0, "the bundle imports Node built-ins");
    assert.equal(
      imports.filter((name) => !isBuiltin(name)),
      [],
      "only Node built-ins are imported",
    );
    const file = join(dir, `${entry.split("/")[1]}.mjs`);
    writeFileSync(file, code);
    const module = (await import(pathToFileURL(file).href)) as { handler?: unknown };
    assert.type(module.handler, "function");
  });
}

test("Lambda settings match the bundle format", () => {
  assert.is(LAMBDA_RUNTIME, "nodejs22.x");
  assert.is(LAMBDA_HANDLER, "index.handler");
});

test("grafana/ assets: YAML and JSON files only, stable digest that changes with content", () => {
  const tmp = mkdtempSync(join(tmpdir(), "coffeetl-grafana-"));
  const write = (path: string, text: string) => {
    const full = join(tmp, path);
    rmSync(full, { force: true });
    writeFileSync(full, text, { flag: "w" });
  };
  assert.equal(readGrafanaAssets(join(tmp, "missing")).files, []);
  write("a.json", "{}");
  write("b.yaml", "x: 1");
  write("notes.ts", "export {}");
  const first = readGrafanaAssets(tmp);
  assert.equal(
    first.files.map((f) => [f.path, f.contentType]),
    [
      ["a.json", "application/json"],
      ["b.yaml", "application/yaml"],
    ],
  );
  assert.is(readGrafanaAssets(tmp).sha256, first.sha256);
  write("b.yaml", "x: 2");
  assert.is.not(readGrafanaAssets(tmp).sha256, first.sha256);
  rmSync(tmp, { recursive: true, force: true });
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
