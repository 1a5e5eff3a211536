// Command-line parsing: finds the command, parses its options strictly, turns every mistake into a
// UsageError (exit status 2) that names the command.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { COMMANDS, GLOBAL_OPTIONS, commandHelp, commandNamed, type CommandSpec, type OptionSpec, generalHelp } from "./commands.js";
import { UsageError } from "./errors.js";
import type { Connection } from "./home.js";

export interface CommandContext {
  spec: CommandSpec;
  args: string[];
  values: Record<string, string | string[] | boolean | undefined>;
  connection: Connection;
}

const toParseArgs = (options: Record<string, OptionSpec>) =>
  Object.fromEntries(
    Object.entries(options).map(([name, o]) => [name, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
  );

/** The package's version: package.json is one folder up from cli/, two from the bundle in dist/cli/. */
function version(): string {
  for (const path of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as { name?: string; version: string };
      if (pkg.name === "coffeetl") return pkg.version;
    } catch {
      // not this one
    }
  }
  return "unknown";
}

/** Parses argv into a command and its values; every mistake is a UsageError naming the command. */
export function parseCommandLine(argv: string[]): { spec?: CommandSpec; ctx?: CommandContext; print?: string } {
  // First pass: find the command (options may come before it), tolerating anything.
  const all = Object.assign({}, ...COMMANDS.map((c) => c.options), GLOBAL_OPTIONS, { version: { type: "boolean" } }) as Record<string, OptionSpec>;
  const loose = parseArgs({ args: argv, allowPositionals: true, strict: false, options: toParseArgs(all) });
  const [name, ...rest] = loose.positionals;
  if (!name || name === "help") {
    if (name === "help" && rest[0]) {
      const spec = commandNamed(rest[0]);
      if (!spec) throw new UsageError(`unknown command ${JSON.stringify(rest[0])}${didYouMean(rest[0])}`);
      return { print: commandHelp(spec) };
    }
    if (loose.values.version) {
      const from = import.meta.url.endsWith(".ts") ? "from source, through tsx" : "built CLI, dist/cli";
      return { print: `coffeetl ${version()} (${from}; Node ${process.versions.node})\n` };
    }
    if (loose.values.help || name === "help") return { print: generalHelp() };
    throw new UsageError("no command given");
  }
  const spec = commandNamed(name);
  if (!spec) throw new UsageError(`unknown command ${JSON.stringify(name)}${didYouMean(name)}`);
  if (loose.values.help) return { spec, print: commandHelp(spec) };

  // --home is taken (and ignored) by every command, so a shell alias with --home works with all of them.
  const globals = Object.fromEntries(Object.entries(GLOBAL_OPTIONS).filter(([n]) => !(n === "database-url" || n === "key-file") || spec.warehouse));
  const known: Record<string, OptionSpec> = { ...spec.options, ...globals };
  // Parsed loosely and checked here, so every mistake is worded by us (parseArgs' strict messages talk
  // about "ambiguous" arguments and '--threads=-XYZ'), and `--threads -1` reaches the value check.
  const parsed = parseArgs({ args: argv, allowPositionals: true, strict: false, tokens: true, options: toParseArgs(known) });
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== "option") continue;
    const option = known[token.name] ?? Object.entries(known).find(([, o]) => o.short === token.name)?.[1];
    if (!option) {
      const guess = closest(token.name, Object.keys(known));
      throw new UsageError(`${spec.name}: unknown option ${token.rawName}${guess ? ` (did you mean --${guess}?)` : ""}`, spec.name);
    }
    const name = token.rawName;
    if (option.type === "boolean" && token.value !== undefined)
      throw new UsageError(`${spec.name}: ${name} takes no value, got ${JSON.stringify(token.value)}`, spec.name);
    if (option.type === "string" && (token.value === undefined || (!token.inlineValue && /^--?[a-z]/i.test(token.value) && !/^-\d/.test(token.value)))) {
      throw new UsageError(`${spec.name}: ${name} needs a value${option.value ? ` (${name} ${option.value})` : ""}`, spec.name);
    }
  }
  const args = parsed.positionals.slice(1);
  if (args.length < spec.minArgs) throw new UsageError(`${spec.name} needs ${spec.args}`, spec.name);
  if (args.length > spec.maxArgs) {
    throw new UsageError(
      `${spec.name} takes ${spec.maxArgs === 0 ? "no arguments" : spec.args}, got ${args.map((a) => JSON.stringify(a)).join(" ")}`,
      spec.name,
    );
  }
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const home = (values.home as string | undefined) ?? process.env.COFFEETL_HOME ?? ".coffeetl";
  const databaseUrl = spec.warehouse ? ((values["database-url"] as string | undefined) ?? process.env.DATABASE_URL) : undefined;
  const keyFile = values["key-file"] as string | undefined;
  // --outputs: the deployed stack instead of a home or server (status, rejects, reprocess; redrive reads it itself).
  const outputs = spec.name === "redrive" ? undefined : (values.outputs as string | undefined);
  const region = values.region as string | undefined;
  if (region !== undefined && outputs === undefined && spec.options.outputs && spec.name !== "redrive") {
    throw new UsageError(`${spec.name}: --region goes with --outputs (the deployed stack)`, spec.name);
  }
  const connection: Connection = {
    home,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(keyFile ? { keyFile } : {}),
    ...(outputs !== undefined ? { outputs, ...(region ? { region } : {}) } : {}),
  };
  return { spec, ctx: { spec, args, values, connection } };
}

/** A whole number option within bounds, or a UsageError saying what it takes. */
export function intOption(ctx: CommandContext, name: string, min: number, max: number): number | undefined {
  const raw = ctx.values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!(typeof raw === "string" && /^\d+$/.test(raw.trim()) && n >= min && n <= max)) {
    throw new UsageError(`--${name} takes a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`, ctx.spec.name);
  }
  return n;
}

/** A date or time option (YYYY-MM-DD or ISO 8601), as a Date. */
export function dateOption(ctx: CommandContext, name: string): Date | undefined {
  const raw = ctx.values[name];
  if (raw === undefined) return undefined;
  const date = typeof raw === "string" && /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw) ? new Date(raw.replace(" ", "T")) : undefined;
  if (!date || Number.isNaN(date.getTime()))
    throw new UsageError(`--${name} takes a date (YYYY-MM-DD) or an ISO time, got ${JSON.stringify(raw)}`, ctx.spec.name);
  return date;
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps), for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate nearest to a misspelt word, when one is near enough to be meant. */
function closest(word: string, candidates: string[]): string | undefined {
  const scored = candidates.map((c) => ({ c, d: c.startsWith(word) && word.length >= 3 ? 0 : distance(word.toLowerCase(), c) })).sort((x, y) => x.d - y.d);
  const best = scored[0];
  return best && best.d <= Math.max(1, Math.min(2, Math.floor(word.length / 3))) ? best.c : undefined;
}

const didYouMean = (name: string): string => {
  const guess = closest(
    name,
    COMMANDS.map((c) => c.name),
  );
  return guess ? ` (did you mean \`coffeetl ${guess}\`?)` : "";
};
