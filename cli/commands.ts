// What each command takes, in one table: parsing, per-command help and home handling all read it.

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** May be given several times (values collected in order). */
  multiple?: boolean;
  /** Placeholder shown in help for a string option. */
  value?: string;
  help: string;
}

export interface CommandSpec {
  name: string;
  /** Positional arguments as shown in the usage line. */
  args: string;
  minArgs: number;
  maxArgs: number;
  summary: string;
  details?: string;
  options: Record<string, OptionSpec>;
  /**
   * How the command treats `--home`: `creates` makes it when missing; `requires` refuses a missing one;
   * `requires-local` refuses a missing one unless a server warehouse is given; `none` ignores it.
   */
  home: "creates" | "requires" | "requires-local" | "none";
  /** Takes `--database-url`. */
  warehouse: boolean;
}

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  home: { type: "string", value: "DIR", help: "state folder (default: $COFFEETL_HOME, else ./.coffeetl)" },
  "database-url": { type: "string", value: "URL", help: "a PostgreSQL server instead of the embedded warehouse (or $DATABASE_URL)" },
  "key-file": {
    type: "string",
    value: "FILE",
    help: "the transaction-id key, for machines sharing one warehouse (or $COFFEETL_KEY_FILE; default: the key made once under --home)",
  },
  help: { type: "boolean", short: "h", help: "show this help" },
};

const threads: OptionSpec = {
  type: "string",
  value: "N",
  help: "worker threads per file (default: one per core, up to 4, for files of 24 MB or more; 0: the main thread only, the least memory)",
};
const json: OptionSpec = { type: "boolean", help: "print a JSON array of row objects" };
/** The deployed stack instead of a home: `status`, `rejects`, `reprocess` and `forget` on AWS (cli/outputs.ts). */
const onAws: Record<string, OptionSpec> = {
  outputs: { type: "string", value: "FILE", help: "on AWS: the stack outputs (`pulumi stack output --json`; - for stdin), instead of a home" },
  region: { type: "string", value: "REGION", help: "with --outputs: AWS region (default: $AWS_REGION, else the stack's)" },
};
/** The deployed stack, for the commands that only run on AWS (`redrive`, `verify`). */
const stack: Record<string, OptionSpec> = {
  outputs: { type: "string", value: "FILE", help: "stack outputs as JSON (`pulumi stack output --json`; - for stdin)" },
  region: { type: "string", value: "REGION", help: "AWS region (default: $AWS_REGION, else the stack's outputs)" },
};

export const COMMANDS: CommandSpec[] = [
  {
    name: "ingest",
    args: "PATH...",
    minArgs: 1,
    maxArgs: Infinity,
    summary: "transform and load raw .csv files (or folders of them) into the local warehouse",
    details:
      "Prints one line per file: rows read, sales new, duplicates, rejected rows, warnings. A missing path or an\n" +
      "unreadable file is reported and the others still run; the exit status is 1 when any failed.\n" +
      "Each file's raw key is its absolute path, so files of the same name in different folders never collide.",
    options: { threads },
    home: "creates",
    warehouse: true,
  },
  {
    name: "sql",
    args: '["QUERY" | -]',
    minArgs: 0,
    maxArgs: 1,
    summary: "run one SQL statement on the warehouse (read-only unless --write)",
    details:
      "The query is the argument, the text of --file FILE, or standard input for - (also --file -).\n" +
      "Without --write only one SELECT (or WITH ... SELECT) runs, in a READ ONLY transaction as the warehouse's\n" +
      "read-only role; COPY, functions that touch the database machine's files or programs, and several\n" +
      "statements are refused. Columns sharing a name are all shown (in --json as name, name_2, ...).",
    options: {
      file: { type: "string", value: "FILE", help: "read the query from FILE (- for standard input)" },
      json: { type: "boolean", help: "print a JSON array of row objects (a repeated column name gets _2, _3, ...)" },
      csv: { type: "boolean", help: "print CSV with a header line" },
      write: { type: "boolean", help: "allow the statement to change the warehouse" },
    },
    home: "requires-local",
    warehouse: true,
  },
  {
    name: "status",
    args: "",
    minArgs: 0,
    maxArgs: 0,
    summary: "recent files with their outcome (loaded, already loaded, superseded, withdrawn, failed) and counts",
    options: {
      failed: { type: "boolean", help: "only the files whose latest outcome is a failure, with the reason" },
      since: { type: "string", value: "DATE", help: "only outcomes recorded on or after DATE (YYYY-MM-DD or an ISO time)" },
      limit: { type: "string", value: "N", help: "at most N files (default 20; 0: all)" },
      json,
      ...onAws,
    },
    home: "requires-local",
    warehouse: true,
  },
  {
    name: "rejects",
    args: "FILE",
    minArgs: 1,
    maxArgs: 1,
    summary: "a file's rejected lines and warnings, with line numbers and reasons",
    details:
      "FILE is a raw key (see `coffeetl status`), the path the file was ingested from, or the end of a key (`leeds.csv`).\n" +
      "The lines are kept in the warehouse with the file's load history (table line_notes), so they outlive the\n" +
      "transformed files (30 days on AWS); with --outputs they are read from the deployed stack's warehouse.",
    options: { json, ...onAws },
    home: "requires",
    warehouse: true,
  },
  {
    name: "forget",
    args: "FILE",
    minArgs: 1,
    maxArgs: 1,
    summary: "withdraw a file loaded by mistake: its sales and items go, its loads are marked withdrawn (dry run without --yes)",
    details:
      "FILE is a raw key (see `coffeetl status`), the path the file was ingested from, or the end of a key (`leeds.csv`).\n" +
      "Without --yes it only says what would go. Sales another file also holds stay. The raw copy is kept, and a later\n" +
      "ingest of the file loads it again. Uploading a version with only the header row does the same.\n" +
      "With --outputs, on AWS: the withdrawal is written to the stack's transformed bucket (keyed with the stack's\n" +
      "transaction secret, read from SSM), whose notification sends it to the load function as any upload's; the\n" +
      "command waits (up to --timeout) until the warehouse shows the file withdrawn.",
    options: {
      yes: { type: "boolean", help: "withdraw it (without: a dry run that changes nothing)" },
      timeout: { type: "string", value: "SECONDS", help: "with --outputs: how long to wait for the load (default 300)" },
      ...onAws,
    },
    home: "requires",
    warehouse: true,
  },
  {
    name: "reprocess",
    args: "[PREFIX]",
    minArgs: 0,
    maxArgs: 1,
    summary: "run raw files already in the home through the pipeline again (idempotent)",
    details:
      "PREFIX is a raw-key prefix or the folder the files were ingested from. Files already transformed and loaded\n" +
      "change nothing; a failed file is transformed and loaded again (after a fix, say).\n" +
      "With --outputs, on AWS: each raw .csv object under PREFIX (e.g. uploads/leeds/) is sent to the stack's\n" +
      "extract-transform function as its S3 event, as an upload does; the pipeline then runs as for a new upload.",
    options: {
      since: { type: "string", value: "DATE", help: "only raw files stored on or after DATE (YYYY-MM-DD or an ISO time)" },
      threads,
      ...onAws,
      "dry-run": { type: "boolean", help: "with --outputs: list what would be sent, send nothing" },
    },
    home: "requires",
    warehouse: true,
  },
  {
    name: "upload",
    args: "FILE|FOLDER...",
    minArgs: 1,
    maxArgs: Infinity,
    summary: "upload branch files to the stack's raw bucket with a branch's upload credentials",
    details:
      "With --credentials FILE (the upload profile JSON an operator hands to a branch manager: no AWS login, no\n" +
      "Pulumi), or --stack STACK --uploader NAME (an operator's AWS login reads /coffeetl/STACK/uploaders/NAME from\n" +
      "SSM). Each file goes to <prefix><file name>; a folder sends its .csv files. Each file is first run through\n" +
      "the pipeline's own transform: a file it would fail whole is not sent. docs/uploads.md describes the credentials.",
    options: {
      credentials: { type: "string", value: "FILE", help: "upload profile JSON: {bucket, prefix, region, accessKeyId, secretAccessKey}" },
      stack: { type: "string", value: "STACK", help: "read the profile from SSM for this stack (with --uploader)" },
      uploader: { type: "string", value: "NAME", help: "the upload identity (branch) whose profile to read" },
      parameter: { type: "string", value: "NAME", help: "the SSM parameter holding the profile (default /coffeetl/STACK/uploaders/NAME)" },
      region: { type: "string", value: "REGION", help: "region of the SSM parameter (default: $AWS_REGION)" },
      check: { type: "boolean", help: "run each file through the pipeline's transform and report; send nothing (no credentials needed)" },
    },
    home: "none",
    warehouse: false,
  },
  {
    name: "redrive",
    args: "",
    minArgs: 0,
    maxArgs: 0,
    summary: "on AWS: redrive the dead-letter queues and re-emit raw objects under a prefix",
    details:
      "Reads the stack outputs from `pulumi stack output --json` (--outputs FILE, or - for standard input).\n" +
      "Moves the load queue's dead-letter messages back to the load queue (SQS StartMessageMoveTask), re-invokes\n" +
      "the extract-transform function with each failed event parked in its dead-letter queue (deleting each\n" +
      "message only once the invocation is accepted), and with --prefix sends the function an S3 event for every\n" +
      "raw .csv object under the prefix. Idempotent: a file already transformed and loaded changes nothing.",
    options: {
      ...stack,
      prefix: { type: "string", value: "PREFIX", help: "also re-emit every raw .csv object under this key prefix" },
      "dry-run": { type: "boolean", help: "say what would be redriven and re-emitted, change nothing" },
    },
    home: "none",
    warehouse: false,
  },
  {
    name: "verify",
    args: "",
    minArgs: 0,
    maxArgs: 0,
    summary: "on AWS: check a deployed stack end to end, one ✔/✘ line per part (run after every `pulumi up`)",
    details:
      "Reads the stack outputs from `pulumi stack output --json` (--outputs FILE, or - for standard input).\n" +
      "Uploads a canary file under _coffeetl-canary/ of the raw bucket, waits (up to --timeout) for its file_outcomes\n" +
      "row through the Data API, then removes it from the warehouse and both buckets; checks that the Grafana reader\n" +
      "may SELECT every table, that Grafana answers /api/health and a viewer can log in, that no alarm is in ALARM and\n" +
      "that both dead-letter queues are empty. Exit status 0 only when every check passed.",
    options: {
      ...stack,
      timeout: { type: "string", value: "SECONDS", help: "how long the canary may take to load (default 300)" },
      reader: { type: "string", value: "USER", help: "the Grafana reader's database user (default coffeetl_grafana)" },
      json: { type: "boolean", help: "the checks as JSON" },
    },
    home: "none",
    warehouse: false,
  },
  {
    name: "sample",
    args: "",
    minArgs: 0,
    maxArgs: 0,
    summary: "write a realistic canonical raw branch file to standard output (the same for the same arguments)",
    options: {
      rows: { type: "string", value: "N", help: "sales rows (default: the branch's usual day)" },
      seed: { type: "string", value: "S", help: "random seed" },
      branch: { type: "string", value: "NAME", help: "branch name" },
      date: { type: "string", value: "YYYY-MM-DD", help: "trading day" },
    },
    home: "none",
    warehouse: false,
  },
  {
    name: "dashboards",
    args: "",
    minArgs: 0,
    maxArgs: 0,
    summary: "render the Grafana dashboards from the warehouse into one HTML page",
    details:
      "The default time range is the data's whole history. T is now-7d, 2024-03-01 or epoch milliseconds.\n" +
      "--serve opens a local page whose time range and branch controls re-run the queries.",
    options: {
      out: { type: "string", value: "FILE.html", help: "where to write the page (default dashboards.html)" },
      from: { type: "string", value: "T", help: "start of the time range" },
      to: { type: "string", value: "T", help: "end of the time range" },
      var: { type: "string", multiple: true, value: "NAME=VALUE", help: "a dashboard variable (may be repeated)" },
      branch: { type: "string", value: "NAME", help: "short for --var branch=NAME" },
      serve: { type: "boolean", help: "serve the page locally with live controls instead of writing a file" },
      port: { type: "string", value: "N", help: "port for --serve (loopback only)" },
    },
    home: "requires-local",
    warehouse: true,
  },
  {
    name: "demo",
    args: "",
    minArgs: 0,
    maxArgs: 0,
    summary: "a week of generated sales for four branches, ingested into a new home, and what it holds",
    details: "Writes 28 branch-day files into <home>/uploads and ingests them. The home must be new or a demo's.",
    options: {},
    home: "creates",
    warehouse: false,
  },
];

export const commandNamed = (name: string): CommandSpec | undefined => COMMANDS.find((c) => c.name === name);

function optionLines(options: Record<string, OptionSpec>): string[] {
  const left = (name: string, o: OptionSpec) => `${o.short ? `-${o.short}, ` : "    "}--${name}${o.value ? ` ${o.value}` : ""}`;
  const width = Math.max(...Object.entries(options).map(([n, o]) => left(n, o).length));
  return Object.entries(options).map(([n, o]) => `  ${left(n, o).padEnd(width)}  ${o.help}`);
}

export function commandHelp(spec: CommandSpec): string {
  const global = Object.fromEntries(
    Object.entries(GLOBAL_OPTIONS).filter(([n]) => (n === "home" ? spec.home !== "none" : n === "database-url" || n === "key-file" ? spec.warehouse : true)),
  );
  return [
    `Usage: coffeetl ${spec.name}${spec.args ? ` ${spec.args}` : ""}${Object.keys(spec.options).length ? " [options]" : ""}`,
    "",
    spec.summary[0]!.toUpperCase() + spec.summary.slice(1) + ".",
    ...(spec.details ? ["", spec.details] : []),
    "",
    "Options:",
    ...optionLines({ ...spec.options, ...global }),
    "",
  ].join("\n");
}

export function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "Usage: coffeetl <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Options:",
    ...optionLines({ ...GLOBAL_OPTIONS, version: { type: "boolean", help: "print the version" } }),
    "",
    "`coffeetl <command> --help` shows a command's arguments and options.",
    "",
  ].join("\n");
}
