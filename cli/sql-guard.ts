// What `coffeetl sql` runs without --write: one SELECT (or WITH ... SELECT), nothing that reaches the
// database machine's files or programs. This is the first of two locks: the statement also runs in a
// READ ONLY transaction as the warehouse's read-only role where there is one (cli/sql.ts), so a
// statement this check misses still cannot write a file, run a program or read the server's files.

/** Functions that read or write the server's files, run SQL text, or act on the server itself. */
const REFUSED_FUNCTIONS: Array<[RegExp, string]> = [
  [/^pg_(read_file|read_binary_file|stat_file|ls_\w+|logdir_ls|file_\w+)$/, "reads the database machine's files"],
  [/^lo_\w+$/, "reads or writes the database machine's files (large objects)"],
  [/^(query|cursor|table|schema|database)_to_xml\w*$/, "runs SQL text of its own"],
  [/^dblink\w*$/, "connects to other databases"],
  [
    /^(pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|set_config|pg_promote|pg_switch_wal|pg_create_restore_point|pg_(start|stop)_backup|pg_backup_(start|stop)|pg_log_backend_memory_contexts|pg_import_system_collations)$/,
    "acts on the database server",
  ],
];

interface Token {
  kind: "word" | "quoted" | "semicolon" | "open" | "other";
  text: string;
}

/** Splits SQL into words, quoted identifiers and punctuation; strings and comments are skipped. */
function tokens(sql: string): Token[] | string {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) i++;
    else if (sql.startsWith("--", i)) {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? sql.length : end + 1;
    } else if (sql.startsWith("/*", i)) {
      let depth = 0;
      for (; i < sql.length; i++) {
        if (sql.startsWith("/*", i)) {
          depth++;
          i++;
        } else if (sql.startsWith("*/", i)) {
          i++;
          if (--depth === 0) break;
        }
      }
      if (depth !== 0) return "a comment is not closed";
      i++;
    } else if (c === "'") {
      // E'...' strings take backslash escapes; the E was read as a word just before.
      const escapes = /^e$/i.test(out[out.length - 1]?.text ?? "") && /[eE]$/.test(sql.slice(0, i));
      if (escapes) out.pop();
      let j = i + 1;
      for (; j < sql.length; j++) {
        if (escapes && sql[j] === "\\") j++;
        else if (sql[j] === "'") {
          if (sql[j + 1] === "'") j++;
          else break;
        }
      }
      if (j >= sql.length) return "a quoted string is not closed";
      i = j + 1;
      out.push({ kind: "other", text: "'…'" });
    } else if (c === '"') {
      const end = sql.indexOf('"', i + 1);
      let j = end;
      while (j >= 0 && sql[j + 1] === '"') j = sql.indexOf('"', j + 2);
      if (j < 0) return "a quoted name is not closed";
      out.push({ kind: "quoted", text: sql.slice(i + 1, j).replace(/""/g, '"') });
      i = j + 1;
    } else if (c === "$" && /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.test(sql.slice(i))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))![0];
      const end = sql.indexOf(tag, i + tag.length);
      if (end < 0) return "a $-quoted string is not closed";
      out.push({ kind: "other", text: "$…$" });
      i = end + tag.length;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      const word = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(sql.slice(i))![0];
      out.push({ kind: "word", text: word });
      i += word.length;
    } else {
      out.push({ kind: c === ";" ? "semicolon" : c === "(" ? "open" : "other", text: c });
      i++;
    }
  }
  return out;
}

/** Why `sql` refuses this statement without --write, or undefined when it may run. */
export function readOnlyRefusal(sql: string): string | undefined {
  const all = tokens(sql);
  if (typeof all === "string") return `cannot read the statement: ${all}`;
  const statements: Token[][] = [[]];
  for (const t of all) {
    if (t.kind === "semicolon") statements.push([]);
    else statements[statements.length - 1]!.push(t);
  }
  const nonEmpty = statements.filter((s) => s.length > 0);
  if (nonEmpty.length === 0) return "the query is empty";
  if (nonEmpty.length > 1) return `${nonEmpty.length} statements (separated by ";"); sql runs one at a time`;
  const statement = nonEmpty[0]!;
  const first = statement.find((t) => t.kind !== "open");
  const keyword = first?.kind === "word" ? first.text.toUpperCase() : "";
  if (keyword === "COPY") return "COPY reads and writes the database machine's files and runs its programs";
  if (keyword !== "SELECT" && keyword !== "WITH")
    return `${keyword ? `a ${keyword} statement` : "not a statement"}; only a SELECT (or WITH ... SELECT) runs read-only`;
  for (const [i, t] of statement.entries()) {
    if (t.kind !== "word" && t.kind !== "quoted") continue;
    const name = t.kind === "word" ? t.text.toLowerCase() : t.text;
    // A call: the name followed by "(", or a name used as a value (`'…'::regproc` tricks need one too).
    const called = statement[i + 1]?.kind === "open";
    for (const [pattern, why] of REFUSED_FUNCTIONS) {
      if (pattern.test(name) && (called || t.kind === "word")) return `${name}() ${why}`;
    }
  }
  return undefined;
}
