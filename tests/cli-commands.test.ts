// cli/commands.ts alone: the one table of commands that parsing, help and home handling read. A
// command in it is complete (help for every option, no clashing names or short flags, a sane argument
// range), and the help printed from it shows exactly the options the command takes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { COMMANDS, GLOBAL_OPTIONS, commandHelp, commandNamed, generalHelp } from "../cli/commands.js";

test("each command once, each with a summary and help for every option", () => {
  const names = COMMANDS.map((c) => c.name);
  assert.equal(names.length, new Set(names).size, `duplicates in ${names}`);
  for (const c of COMMANDS) {
    assert.ok(c.summary.length > 0 && c.summary[0] === c.summary[0]!.toLowerCase(), `${c.name}: summary ${JSON.stringify(c.summary)}`);
    assert.ok(c.minArgs >= 0 && c.minArgs <= c.maxArgs, `${c.name}: ${c.minArgs}..${c.maxArgs} arguments`);
    for (const [name, o] of Object.entries({ ...c.options, ...GLOBAL_OPTIONS })) assert.ok(o.help.trim().length > 0, `${c.name} --${name} has no help`);
  }
});

test("no command's option clashes with a global one, and short flags are unique per command", () => {
  for (const c of COMMANDS) {
    for (const name of Object.keys(c.options)) assert.not.ok(name in GLOBAL_OPTIONS, `${c.name} redefines --${name}`);
    const shorts = Object.values({ ...c.options, ...GLOBAL_OPTIONS }).flatMap((o) => (o.short ? [o.short] : []));
    assert.equal(shorts.length, new Set(shorts).size, `${c.name}: short flags ${shorts}`);
  }
});

test("commandNamed finds a command by its exact name only", () => {
  assert.is(commandNamed("ingest")?.name, "ingest");
  assert.is(commandNamed("INGEST"), undefined);
  assert.is(commandNamed("ingestx"), undefined);
});

test("a command's help: its usage, its summary as a sentence, its options; --home only where it uses one, --database-url only with a warehouse", () => {
  for (const c of COMMANDS) {
    const help = commandHelp(c);
    assert.ok(help.startsWith(`Usage: coffeetl ${c.name}`), help);
    assert.ok(help.includes(c.summary.slice(1) + "."), `${c.name}: summary missing`);
    for (const name of Object.keys(c.options)) assert.match(help, `--${name}`);
    assert.is(/--home\b/.test(help), c.home !== "none", `${c.name} (home: ${c.home}) and --home in help`);
    assert.is(/--database-url\b/.test(help), c.warehouse, `${c.name} (warehouse: ${c.warehouse}) and --database-url in help`);
    assert.match(help, "--help");
  }
});

test("the general help lists every command and the global options", () => {
  const help = generalHelp();
  for (const c of COMMANDS) assert.match(help, new RegExp(`^  ${c.name} +${c.summary.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"));
  for (const name of Object.keys(GLOBAL_OPTIONS)) assert.match(help, `--${name}`);
  assert.match(help, "--version");
});

test.run();
