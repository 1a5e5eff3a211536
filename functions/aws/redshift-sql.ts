// The Redshift-only SQL of a load: its string literals, its LOCK, and COPY of a table's files from
// S3 into its staging table. Everything else in a load is the portable SQL of functions/warehouse/load/.
import type { LoadRequest } from "../app/ports.js";
import { COLUMNS, LINE_NOTES_COLUMNS, LOAD_LOCK_TABLE, type TableName } from "../core/schema.js";
import { LINE_NOTES_TABLE, deleteLineNotesStatement } from "../warehouse/line-notes.js";
import type { Dialect } from "../warehouse/literals.js";
import { stagingTable } from "../warehouse/load/index.js";
import { IAM_ROLE_ARN } from "./ssm.js";

/** Timestamps in the table files are `YYYY-MM-DD HH:MM:SS`; in COPY's TIMEFORMAT, HH is the 24-hour clock. */
export const COPY_TIME_FORMAT = "YYYY-MM-DD HH:MI:SS";

/**
 * A Redshift string literal. Redshift (unlike PostgreSQL with standard_conforming_strings) reads a
 * backslash in a plain literal as an escape (`'a\nb'` holds a newline; QUOTE_LITERAL doubles
 * backslashes), so both `'` and `\` are doubled. Control characters are refused outright.
 */
export function redshiftString(value: string, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new Error(`${what} contains a control character`);
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

const S3_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/;

/** Checks an `s3://bucket/key` URI and returns it as a literal. */
export function s3UriLiteral(uri: string): string {
  const m = S3_URI.exec(uri);
  if (!m) throw new Error(`not an s3://bucket/key URI: ${JSON.stringify(uri)}`);
  if (Buffer.byteLength(m[2]!) > 1024) throw new Error(`S3 key longer than 1024 bytes: ${JSON.stringify(uri)}`);
  return redshiftString(uri, "S3 URI");
}

export function roleArnLiteral(arn: string): string {
  if (!IAM_ROLE_ARN.test(arn)) throw new Error(`not an IAM role ARN: ${JSON.stringify(arn)}`);
  return redshiftString(arn, "IAM role ARN");
}

/**
 * Redshift's `LOCK` is ACCESS EXCLUSIVE until the transaction ends: a SELECT of a locked table waits.
 * So it locks only the loaders' lock table (functions/core/schema.ts LOAD_LOCK_TABLE), never data.
 */
export const REDSHIFT_DIALECT: Dialect = {
  string: redshiftString,
  lock: (table) => `LOCK ${table}`,
};

/** A COPY manifest (docs/design.md §12): every listed file must exist, or the COPY fails. */
export function copyManifest(uris: string[]): string {
  for (const uri of uris) s3UriLiteral(uri);
  return JSON.stringify({ entries: uris.map((url) => ({ url, mandatory: true })) });
}

/**
 * COPY into a table's staging table (CSV with a header per file, columns in schema order), from
 * one table file, or with `manifest: true` from a COPY manifest listing the files of a batch.
 * - FORMAT AS CSV: `"` quoting with `""` inside, as csv-writer writes; no ESCAPE (a backslash is data).
 * - IGNOREHEADER 1 skips the header of every file, also of each file of a manifest.
 * - EMPTYASNULL: an empty unquoted field of a VARCHAR column (products.size, products.flavour) is NULL;
 *   empty fields of other types are NULL anyway.
 * - COMPUPDATE OFF, STATUPDATE OFF: no compression analysis or statistics for a temporary staging table.
 * A COPY path without MANIFEST is a key prefix: `…/transactions.csv` would also match
 * `…/transactions.csv.bak`; the transformed prefix is written only by the transform, with exactly the
 * names of the manifest, so nothing else can match.
 */
export function copyStatement(table: TableName, uri: string, roleArn: string, options: { manifest?: boolean } = {}): string {
  return (
    `COPY ${stagingTable(table)} (${COLUMNS[table].join(", ")}) FROM ${s3UriLiteral(uri)} ` +
    `IAM_ROLE ${roleArnLiteral(roleArn)}${options.manifest ? " MANIFEST" : ""} FORMAT AS CSV IGNOREHEADER 1 EMPTYASNULL ` +
    `TIMEFORMAT '${COPY_TIME_FORMAT}' COMPUPDATE OFF STATUPDATE OFF`
  );
}

/** The CSV of a batch's line notes, beside its COPY manifests. */
export const LINE_NOTES_FILE = "line_notes.csv";

/**
 * The transaction that keeps a batch's rejected lines and warnings (warehouse/line-notes.ts): the
 * LOCK of the loaders' own lock table makes concurrent writers of the same notes take turns (Redshift
 * enforces no key) without locking readers out of `line_notes`, the DELETE
 * makes writing them again change nothing, and TRUNCATECOLUMNS keeps an over-long reason from
 * failing the load.
 */
export function lineNotesStatements(requests: LoadRequest[], uri: string, roleArn: string): string[] {
  return [
    REDSHIFT_DIALECT.lock(LOAD_LOCK_TABLE),
    deleteLineNotesStatement(requests),
    `COPY ${LINE_NOTES_TABLE} (${LINE_NOTES_COLUMNS.join(", ")}) FROM ${s3UriLiteral(uri)} IAM_ROLE ${roleArnLiteral(roleArn)} ` +
      `FORMAT AS CSV IGNOREHEADER 1 TRUNCATECOLUMNS COMPUPDATE OFF STATUPDATE OFF`,
  ];
}
