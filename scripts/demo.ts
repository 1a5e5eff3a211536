// `npm run demo`: a week of generated sales for four branches, ingested into a fresh local
// warehouse under ./.coffeetl-demo with the real CLI, then what the warehouse now knows.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SAMPLE_BRANCHES, sampleChunks, sampleFileName } from "../functions/core/sample.js";

const root = new URL("..", import.meta.url).pathname;
const home = join(root, ".coffeetl-demo");
const uploads = join(home, "uploads");
const coffeetl = (...args: string[]) => {
  console.log(`\n$ coffeetl ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a.replace(/\s+/g, " ")) : a)).join(" ")} --home .coffeetl-demo`);
  const result = spawnSync(process.execPath, [join(root, "bin/coffeetl.js"), ...args, "--home", home], { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

rmSync(home, { recursive: true, force: true });
mkdirSync(uploads, { recursive: true });
const branches = ["Chesterfield", "Leeds", "London Brixton", "Newcastle upon Tyne"];
const days = ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08", "2024-03-09", "2024-03-10"];
for (const branch of branches) {
  for (const [i, date] of days.entries()) {
    const file = sampleFileName(branch, date, SAMPLE_BRANCHES[branch]!.open);
    writeFileSync(join(uploads, file), [...sampleChunks({ branch, date, seed: i })].join(""));
  }
}
console.log(`Generated ${branches.length * days.length} branch-day files in .coffeetl-demo/uploads (as \`coffeetl sample\` writes them).`);
coffeetl("ingest", uploads);
coffeetl(
  "sql",
  `SELECT b.branch_name AS branch, COUNT(*) AS sales, SUM(t.total_amount) AS revenue
   FROM transactions t JOIN branches b ON b.branch_id = t.branch_id
   GROUP BY b.branch_name ORDER BY revenue DESC`,
);
coffeetl(
  "sql",
  `SELECT p.product_name AS product, p.size, p.flavour, SUM(i.quantity) AS units, SUM(i.unit_price * i.quantity) AS revenue
   FROM transaction_items i JOIN products p ON p.product_id = i.product_id
   GROUP BY p.product_name, p.size, p.flavour ORDER BY revenue DESC LIMIT 5`,
);
console.log(`\nThe warehouse is in .coffeetl-demo. Next: npx coffeetl dashboards --home .coffeetl-demo --out dashboards.html`);
