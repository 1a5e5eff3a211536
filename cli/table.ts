const cell = (v: unknown) => (v === null || v === undefined ? "" : v instanceof Date ? v.toISOString() : typeof v === "object" ? JSON.stringify(v) : String(v));

/** Columns and rows as an aligned text table, as psql prints them (columns sharing a name all shown). */
export function formatColumns(columns: string[], rows: unknown[][]): string {
  if (columns.length === 0) return `(${rows.length} row${rows.length === 1 ? "" : "s"})\n`;
  const cells = rows.map((row) => columns.map((_, i) => cell(row[i])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join(" | ")
      .trimEnd();
  return (
    [line(columns), widths.map((w) => "-".repeat(w)).join("-+-"), ...cells.map(line), `(${rows.length} row${rows.length === 1 ? "" : "s"})`].join("\n") + "\n"
  );
}

/** Row objects as an aligned text table (status, rejects, demo). */
export function formatTable(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return "(0 rows)\n";
  const columns = Object.keys(rows[0]!);
  return formatColumns(
    columns,
    rows.map((r) => columns.map((c) => r[c])),
  );
}
