/**
 * The CLI's one command-line parser. Each command is defined once (defineCommand: its
 * name, alias, description and typed options); the same definition drives the strict
 * parsing here and the usage text (help.ts). Parsing is strict: an unknown option, a
 * missing value, a repeated option or an extra argument is a usage error (exit 2) that
 * names it, so typos like `--stauts failed` in a CI gate do not pass silently.
 */
import { parseBool } from "../engine/options.js";
import { usageError as usageErr } from "./errors.js";

/** One option or positional argument of a command. */
export interface ArgDef {
  type: "string" | "boolean" | "positional";
  /** Other spellings: one letter is `-x`, longer is `--xyz`. */
  alias?: string | readonly string[];
  /** The value's placeholder in the usage text (`--host=<host>`). */
  valueHint?: string;
  description?: string;
  /** Booleans: shown as a `--no-NAME` line of its own. */
  negativeDescription?: string;
  /** Positionals are required unless `required: false`; options are never required by the parser. */
  required?: boolean;
}

export type ArgsDef = Readonly<Record<string, ArgDef>>;

/** The parsed command line, typed by the definition: booleans and strings are undefined when not given. */
export type ParsedArgs<A extends ArgsDef> = {
  -readonly [K in keyof A]: A[K] extends { type: "boolean" }
    ? boolean | undefined
    : A[K] extends { type: "positional"; required: false }
      ? string | undefined
      : A[K] extends { type: "positional" }
        ? string
        : string | undefined;
};

export interface CommandMeta {
  name: string;
  /** Another name the command answers to (`ls` for list). */
  alias?: string;
  description: string;
  version?: string;
}

export interface CommandDef<A extends ArgsDef = ArgsDef> {
  meta: CommandMeta;
  args: A;
  /** Runs the command; the number is the exit code. */
  run?(ctx: { args: ParsedArgs<A> }): number | Promise<number>;
}

/** Defines a command, keeping its option names and types for `run`. */
export function defineCommand<const A extends ArgsDef>(def: CommandDef<A>): CommandDef<A> {
  return def;
}

/** String options that take comma lists; repeating them adds to the list. */
export const LIST_OPTIONS: ReadonlySet<string> = new Set(["status", "host", "fail-on"]);

export function aliases(def: ArgDef): readonly string[] {
  const a = def.alias;
  return a === undefined ? [] : typeof a === "string" ? [a] : a;
}

export function spell(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

export function didYouMean(input: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const dd = distance(input, c);
    if (dd < bestD) {
      best = c;
      bestD = dd;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(input.length / 3)) ? ` (did you mean ${best}?)` : "";
}

/** True when `tokens` ask for help (before any `--`). */
export function wantsHelp(tokens: readonly string[]): boolean {
  for (const t of tokens) {
    if (t === "--") return false;
    if (t === "--help" || t === "-h") return true;
  }
  return false;
}

/**
 * Index of the command name: the first token that is neither an option nor the value of
 * a global option written as `--store URL`. -1 when there is none.
 */
export function commandIndex(tokens: readonly string[], globals: ArgsDef): number {
  const valued = new Set<string>();
  for (const [name, def] of Object.entries(globals)) {
    if (def.type === "string") for (const n of [name, ...aliases(def)]) valued.add(spell(n));
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === "--") return -1;
    if (t.startsWith("-") && t !== "-") {
      if (!t.includes("=") && valued.has(t)) i++;
      continue;
    }
    return i;
  }
  return -1;
}

/**
 * Parses `tokens` (the command line after the command name) by `def`: options by name or
 * alias (`--name value`, `--name=value`, `--flag`, `--no-flag`, `--flag=false`), list
 * options repeated or comma-separated (values joined with ","), positionals in order
 * (everything after `--` is positional). `cmd` names the command in messages ("" is the
 * root). Throws a usage error (exit 2) that names the offending token.
 */
export function parseArgv<A extends ArgsDef>(cmd: string, def: A, tokens: readonly string[]): ParsedArgs<A> {
  // "" is the root: messages say "ansible-jobs", the hint is `ansible-jobs --help`.
  const command = cmd || "ansible-jobs";
  const usageError = (message: string) => usageErr(message, cmd || undefined);
  const bySpelling = new Map<string, string>();
  const positionals: [string, ArgDef][] = [];
  for (const [name, d] of Object.entries(def)) {
    if (d.type === "positional") {
      positionals.push([name, d]);
      continue;
    }
    bySpelling.set(`--${name}`, name);
    for (const a of aliases(d)) bySpelling.set(spell(a), name);
  }
  const values = new Map<string, string[]>();
  const flags = new Map<string, boolean>();
  const given: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === "--") {
      given.push(...tokens.slice(i + 1));
      break;
    }
    if (!t.startsWith("-") || t === "-") {
      given.push(t);
      continue;
    }
    const eq = t.indexOf("=");
    const flag = eq > 0 ? t.slice(0, eq) : t;
    const inline = eq > 0 ? t.slice(eq + 1) : undefined;
    let name = bySpelling.get(flag);
    let negated = false;
    if (name === undefined && flag.startsWith("--no-")) {
      const base = bySpelling.get(`--${flag.slice(5)}`);
      if (base !== undefined && def[base]?.type === "boolean") {
        name = base;
        negated = true;
      }
    }
    if (name === undefined) {
      throw usageError(`unknown option ${flag} for ${command}${didYouMean(flag, bySpelling.keys())}`);
    }
    const d = def[name]!;
    if (d.type === "boolean") {
      let v = !negated;
      if (inline !== undefined) {
        const b = parseBool(inline);
        if (negated || b === undefined) throw usageError(`${flag} takes no value (got "${inline}")`);
        v = b;
      }
      // The last of --flag / --no-flag wins.
      flags.set(name, v);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = tokens[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-")) {
        throw usageError(`${flag} needs a value${d.valueHint ? ` (${d.valueHint})` : ""}`);
      }
      value = next;
      i++;
    }
    if (value === "") throw usageError(`${flag} needs a non-empty value`);
    const prev = values.get(name);
    if (prev && !LIST_OPTIONS.has(name)) throw usageError(`${spell(name)} given more than once`);
    values.set(name, [...(prev ?? []), value]);
  }
  if (given.length > positionals.length) {
    const extra = given[positionals.length]!;
    throw usageError(
      positionals.length === 0
        ? `${command} takes no arguments (got "${extra}")`
        : `unexpected argument "${extra}" (${command} takes ${positionals.map(([n]) => n.toUpperCase()).join(" ")})`,
    );
  }
  for (let i = given.length; i < positionals.length; i++) {
    const [n, d] = positionals[i]!;
    if (d.required !== false) throw usageError(`missing ${n.toUpperCase()}`);
  }
  const out: Record<string, string | boolean | undefined> = {};
  for (const [name, v] of flags) out[name] = v;
  for (const [name, vs] of values) out[name] = vs.join(",");
  for (let i = 0; i < given.length; i++) out[positionals[i]![0]] = given[i];
  return out as ParsedArgs<A>;
}
