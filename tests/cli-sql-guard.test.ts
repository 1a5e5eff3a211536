// cli/sql-guard.ts alone: the first lock of `coffeetl sql` without --write. One SELECT (or WITH ...
// SELECT) passes; anything else, more than one statement, and calls that reach the server's files,
// run SQL text or act on the server are refused with the reason. Strings, comments and quoted names
// hide nothing and reveal nothing.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readOnlyRefusal } from "../cli/sql-guard.js";

test("a SELECT, a WITH ... SELECT, a parenthesised SELECT run", () => {
  for (const sql of [
    "SELECT count(*) FROM transactions",
    "  select 1;  ",
    "WITH t AS (SELECT 1 AS n) SELECT n FROM t",
    "(SELECT 1) UNION (SELECT 2)",
    "SELECT 'DROP TABLE x; pg_read_file(''/etc/passwd'')' AS text -- DELETE FROM y",
    'SELECT "lo_import" FROM t',
    "SELECT $$ ; COPY $$, $tag$ pg_ls_dir() $tag$",
    "SELECT /* nested /* ; */ DROP */ 1",
    "SELECT E'it\\'s; fine'",
  ])
    assert.is(readOnlyRefusal(sql), undefined, sql);
});

test("other statements are refused, naming the statement", () => {
  assert.is(readOnlyRefusal("DROP TABLE transactions"), "a DROP statement; only a SELECT (or WITH ... SELECT) runs read-only");
  assert.is(readOnlyRefusal("insert into t values (1)"), "a INSERT statement; only a SELECT (or WITH ... SELECT) runs read-only");
  assert.is(readOnlyRefusal("COPY transactions TO '/tmp/x'"), "COPY reads and writes the database machine's files and runs its programs");
  assert.is(readOnlyRefusal("(COPY (SELECT 1) TO PROGRAM 'sh')"), "COPY reads and writes the database machine's files and runs its programs");
  assert.is(readOnlyRefusal("42"), "not a statement; only a SELECT (or WITH ... SELECT) runs read-only");
});

test("one statement at a time; empty is refused", () => {
  assert.is(readOnlyRefusal("SELECT 1; DROP TABLE t"), '2 statements (separated by ";"); sql runs one at a time');
  assert.is(readOnlyRefusal("SELECT 1; SELECT 2;"), '2 statements (separated by ";"); sql runs one at a time');
  assert.is(readOnlyRefusal(" ; -- nothing"), "the query is empty");
});

test("functions that reach the server's files, run SQL text, connect elsewhere or act on the server are refused", () => {
  const cases: [string, string][] = [
    ["SELECT pg_read_file('/etc/hostname')", "pg_read_file() reads the database machine's files"],
    ["SELECT * FROM PG_LS_DIR('.')", "pg_ls_dir() reads the database machine's files"],
    ["SELECT lo_import('/etc/passwd')", "lo_import() reads or writes the database machine's files (large objects)"],
    ["SELECT query_to_xml('DELETE FROM t', true, true, '')", "query_to_xml() runs SQL text of its own"],
    ["SELECT dblink_exec('host=x', 'DROP TABLE t')", "dblink_exec() connects to other databases"],
    ["SELECT set_config('default_transaction_read_only', 'off', false)", "set_config() acts on the database server"],
    ["SELECT \"pg_read_file\"('/etc/passwd')", "pg_read_file() reads the database machine's files"],
    ["SELECT 'pg_terminate_backend'::regproc, pg_terminate_backend", "pg_terminate_backend() acts on the database server"],
    ["WITH x AS (SELECT pg_reload_conf()) SELECT * FROM x", "pg_reload_conf() acts on the database server"],
  ];
  for (const [sql, why] of cases) assert.is(readOnlyRefusal(sql), why, sql);
});

test("a statement it cannot read is refused, saying why", () => {
  assert.is(readOnlyRefusal("SELECT 'open"), "cannot read the statement: a quoted string is not closed");
  assert.is(readOnlyRefusal('SELECT "open'), "cannot read the statement: a quoted name is not closed");
  assert.is(readOnlyRefusal("SELECT $$ open"), "cannot read the statement: a $-quoted string is not closed");
  assert.is(readOnlyRefusal("SELECT /* /* */ 1"), "cannot read the statement: a comment is not closed");
});

test.run();
