/**
 * Strict command-line checking in front of citty. citty's parser is lenient (unknown
 * options are ignored, a repeated option keeps its last value), which hides typos like
 * `--stauts failed` in a CI gate. So every token is checked against the command's typed
 * definition first, then handed to citty in a normal form: `--name=value`, `--no-flag`,
 * and positionals after `--`.
 */
import type { ArgDef, ArgsDef } from "citty";
import { parseBool } from "../engine/options.js";
import { usageError as usageErr } from "./errors.js";

/** String options that take comma lists; repeating them adds to the list. */
export const LIST_OPTIONS: ReadonlySet<string> = new Set(["status", "host", "fail-on"]);

function aliases(def: ArgDef): string[] {
  const a = (def as { alias?: string | string[] }).alias;
  return a === undefined ? [] : Array.isArray(a) ? a : [a];
}

function spell(name: string): string {
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
    if (def.type === "string" || def.type === "enum") for (const n of [name, ...aliases(def)]) valued.add(spell(n));
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
 * Checks `tokens` against `def` and returns them in citty's unambiguous form.
 * Throws a usage error (exit 2) that names the offending option.
 */
export function normalize(cmd: string, def: ArgsDef, tokens: readonly string[]): string[] {
  // "" is the root: messages say "ansible-jobs", the hint is `ansible-jobs --help`.
  const command = cmd || "ansible-jobs";
  const usageError = (message: string, _c: string) => usageErr(message, cmd || undefined);
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
      throw usageError(`unknown option ${flag} for ${command}${didYouMean(flag, bySpelling.keys())}`, command);
    }
    const d = def[name]!;
    if (d.type === "boolean") {
      let v = !negated;
      if (inline !== undefined) {
        const b = parseBool(inline);
        if (negated || b === undefined) throw usageError(`${flag} takes no value (got "${inline}")`, command);
        v = b;
      }
      flags.set(name, v);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = tokens[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-")) {
        throw usageError(`${flag} needs a value${d.valueHint ? ` (${d.valueHint})` : ""}`, command);
      }
      value = next;
      i++;
    }
    if (value === "") throw usageError(`${flag} needs a non-empty value`, command);
    if (d.type === "enum" && d.options && !d.options.includes(value)) {
      throw usageError(`${flag}: "${value}" is not one of ${d.options.join(", ")}`, command);
    }
    const prev = values.get(name);
    if (prev && !LIST_OPTIONS.has(name)) throw usageError(`${spell(name)} given more than once`, command);
    values.set(name, [...(prev ?? []), value]);
  }
  if (given.length > positionals.length) {
    const extra = given[positionals.length]!;
    throw usageError(
      positionals.length === 0
        ? `${command} takes no arguments (got "${extra}")`
        : `unexpected argument "${extra}" (${command} takes ${positionals.map(([n]) => n.toUpperCase()).join(" ")})`,
      command,
    );
  }
  for (let i = given.length; i < positionals.length; i++) {
    const [n, d] = positionals[i]!;
    if (d.required !== false && d.default === undefined) throw usageError(`missing ${n.toUpperCase()}`, command);
  }
  const out: string[] = [];
  for (const [name, v] of flags) out.push(v ? `--${name}` : `--no-${name}`);
  for (const [name, vs] of values) out.push(`--${name}=${vs.join(",")}`);
  out.push("--", ...given);
  return out;
}
