/** Rows as an aligned text table, for `coffeetl sql`. */
export function formatTable(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return "(0 rows)\n";
  const columns = Object.keys(rows[0]!);
  const cell = (v: unknown) => (v === null || v === undefined ? "" : v instanceof Date ? v.toISOString() : String(v));
  const cells = rows.map((row) => columns.map((c) => cell(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join(" | ").trimEnd();
  return [line(columns), widths.map((w) => "-".repeat(w)).join("-+-"), ...cells.map(line), `(${rows.length} row${rows.length === 1 ? "" : "s"})`].join("\n") + "\n";
}
