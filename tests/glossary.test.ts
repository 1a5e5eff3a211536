// The glossary (docs/design.md §13) names what exists, and the names it retired stay retired: every
// code name in its table is in the code, and none of the old names of its concepts is back in
// functions/, cli/, infra/ or index.ts. A concept renamed without the glossary fails here.
// Run alone: node --import tsx tests/glossary.test.ts
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT } from "./helpers.js";

const design = readFileSync(join(ROOT, "docs/design.md"), "utf8");
const section = /\n## 13\. Glossary\n([\s\S]*?)(\n## |$)/.exec(design)?.[1] ?? "";
const rows = section.split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| Concept") && !line.startsWith("| ---"));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith(".ts") ? [path] : [];
  });
}
const files = [...["functions", "cli", "infra"].flatMap((d) => sources(join(ROOT, d))), join(ROOT, "index.ts")].map((path) => ({
  path: relative(ROOT, path),
  text: readFileSync(path, "utf8"),
}));
const code = files.map((f) => f.text).join("\n");

/** Old names of the glossary's concepts, and the one place each may still be read (a user-facing name kept). */
const RETIRED: { name: RegExp; concept: string; allowedIn?: string }[] = [
  { name: /\bsecret: string \| Buffer/, concept: "transaction-id key (transactionIdKey)" },
  { name: /\breadSecret\b/, concept: "transaction-id key (readTransactionIdKey)" },
  { name: /\bKEY_ENV\b/, concept: "transaction-id key (TRANSACTION_ID_KEY_ENV)" },
  { name: /\bTRANSACTION_SECRET_PARAMETER\b/, concept: "transaction-id key (TRANSACTION_ID_KEY_PARAMETER)" },
  { name: /\btransactionSecretParameter\b/, concept: "transaction-id key (transactionIdKeyParameter)", allowedIn: "cli/outputs.ts" },
  { name: /\btransactionKeys?\b/, concept: "transaction id (transactionId)" },
  { name: /\bsalesNew\b/, concept: "new sales (transactionsNew)" },
  { name: /\bSSM_PARAMETER_NAME\b/, concept: "warehouse parameter (WAREHOUSE_PARAMETER_NAME)" },
  { name: /\bRedshiftConnection\b|\b(parse|read|reader)Connection\b/, concept: "warehouse settings (WarehouseSettings)" },
  { name: /\bdedupe\b/, concept: "keep once (keepOnce)" },
  { name: /\bVariant\b/, concept: "layout (Layout)" },
];

test("the table has its rows", () => {
  assert.ok(rows.length >= 12, `only ${rows.length} rows in docs/design.md §13`);
});

test("every code name the table gives is in the code", () => {
  const missing: string[] = [];
  for (const row of rows) {
    const inCode = row.split(" | ")[2] ?? "";
    for (const [, name] of inCode.matchAll(/`\$?([A-Za-z_][A-Za-z0-9_]{2,})`/g)) {
      if (!new RegExp(`\\b${name}\\b`).test(code)) missing.push(name!);
    }
  }
  assert.equal(missing, [], `named in docs/design.md §13 but not in functions/, cli/, infra/ or index.ts: ${missing.join(", ")}`);
});

test("no retired name is back in the code", () => {
  const found: string[] = [];
  for (const { name, concept, allowedIn } of RETIRED) {
    for (const file of files) {
      if (file.path !== allowedIn && name.test(file.text)) found.push(`${file.path}: ${name.source} (now: ${concept})`);
    }
  }
  assert.equal(found, [], found.join("\n"));
});

test.run();
