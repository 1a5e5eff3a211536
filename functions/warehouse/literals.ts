// Values inlined into the warehouse's SQL. The Data API's BatchExecuteStatement takes no parameters,
// so every value is written as a literal: hex ids, integers and ISO timestamps are checked here,
// strings go through the dialect's literal function.

/** What differs between PostgreSQL and Redshift in the load's SQL, besides COPY. */
export interface Dialect {
  /** A string literal; refuses what cannot be written safely. */
  string(value: string, what: string): string;
  /** The statement that opens every load transaction: the exclusive lock of the loaders' lock table. */
  lock(table: string): string;
}

// A control character is never part of a key or a version; refusing them keeps literals one line.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** PostgreSQL (standard_conforming_strings on, the default since 9.1): only `'` is special. */
export const POSTGRES_DIALECT: Dialect = {
  string(value, what) {
    if (CONTROL.test(value)) throw new Error(`${what} contains a control character`);
    return `'${value.replace(/'/g, "''")}'`;
  },
  // As on Redshift (ACCESS EXCLUSIVE), on a table only loaders touch: loaders queue, readers never do.
  lock: (table) => `LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`,
};

export const hex = (value: string, what: string): string => {
  if (!/^[0-9a-f]{1,64}$/.test(value)) throw new Error(`${what} must be lowercase hex, got ${JSON.stringify(value)}`);
  return `'${value}'`;
};

export const count = (value: number, what: string): string => {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${what} must be a non-negative integer, got ${value}`);
  return String(value);
};

/** An ISO UTC timestamp as a TIMESTAMP literal; whole seconds unless `fraction` (as dashboards read them). */
export const timestamp = (value: string, fraction = false): string => {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,6})?Z$/.exec(value);
  if (!m) throw new Error(`timestamp must be an ISO UTC timestamp, got ${JSON.stringify(value)}`);
  return `CAST('${m[1]} ${m[2]}${fraction ? (m[3] ?? "") : ""}' AS TIMESTAMP)`;
};

/** A literal, or a typed NULL when there is no value. */
export const optional = (value: string | undefined | null, literal: (v: string) => string, type: string): string =>
  value === undefined || value === null ? `CAST(NULL AS ${type})` : literal(value);
