// One measured phase of the benchmark, alone in its process so that its peak RSS is its own.
//   phase.js transform HOME KEY [workers]   transformObject: raw/KEY → transformed/
//   phase.js load HOME MANIFEST_KEY [DATABASE_URL]   loadManifest into a fresh warehouse
//   phase.js csv-parse HOME KEY                      csv-parse alone over the raw file (reference)
// Prints one JSON line: seconds, CPU seconds, peak RSS and the phase's own figures.
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { parse as csvParse } from "csv-parse";
import { loadManifest } from "../functions/app/load-manifests.js";
import { transformObject } from "../functions/app/transform-object.js";
import { FolderStorage } from "../functions/local/folder-storage.js";
import { PostgresWarehouse } from "../functions/local/postgres-warehouse.js";

const [phase, home, key, extra] = process.argv.slice(2);
if (!phase || !home || !key) throw new Error("usage: phase transform|load HOME KEY [workers|DATABASE_URL]");
const raw = new FolderStorage(join(home, "raw"));
const transformed = new FolderStorage(join(home, "transformed"));

const measure = async <T>(work: () => Promise<T>) => {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const result = await work();
  const used = process.cpuUsage(cpu);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, cpuSeconds: (used.user + used.system) / 1e6, result };
};

if (phase === "transform") {
  const workers = extra === undefined ? undefined : Number(extra);
  const { seconds, cpuSeconds, result } = await measure(() => transformObject({ raw, transformed, transactionIdKey: "bench-secret", workers }, key));
  if (result.status === "refused") throw new Error(result.failure.reason);
  const m = result.manifest;
  console.log(
    JSON.stringify({
      seconds,
      cpuSeconds,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      rows: m.rowsRead,
      manifestKey: result.manifestKey,
      transactions: m.rows.transactions,
      items: m.rows.transaction_items,
    }),
  );
} else if (phase === "load") {
  const warehouse = await PostgresWarehouse.open(extra ? { databaseUrl: extra } : { dataDir: join(home, `warehouse-${process.pid}`) });
  await warehouse.ensureSchema();
  const { seconds, cpuSeconds, result } = await measure(() => loadManifest({ transformed, warehouse }, key));
  await warehouse.close();
  console.log(
    JSON.stringify({ seconds, cpuSeconds, peakRssMb: process.resourceUsage().maxRSS / 1024, rows: result.rowsRead, transactionsNew: result.transactionsNew }),
  );
} else if (phase === "csv-parse") {
  // The floor for any csv-parse based transform: parse every record, do nothing with it.
  const { seconds, cpuSeconds, result } = await measure(async () => {
    let rows = 0;
    const parser = createReadStream(raw.path(key), { highWaterMark: 256 * 1024 }).pipe(csvParse({ relax_column_count: true }));
    parser.on("data", () => rows++);
    await new Promise((resolve, reject) => parser.on("end", resolve).on("error", reject));
    return rows;
  });
  console.log(JSON.stringify({ seconds, cpuSeconds, peakRssMb: process.resourceUsage().maxRSS / 1024, rows: result }));
} else {
  throw new Error(`unknown phase ${phase}`);
}
