/**
 * Option validation and coercion the way AnsibleModule does it: "3600" is an int,
 * "yes" is a bool, "a,b" is a list. Errors name the option.
 *
 * A module's options are declared once, as a typebox object of `Opt.*` schemas: its
 * TypeScript type is `Static<>` of it, its AnsibleModule-style spec (type, required, default,
 * choices, elements, aliases) is `specOf()` of it, and `coerceTo()` returns that type.
 */
import { type Static, type TNull, type TObject, type TSchema, type TUnion, Type } from "@sinclair/typebox";
import { invalid } from "./errors.js";

export type OptType = "str" | "int" | "bool" | "list" | "dict" | "raw" | "path";

export interface OptSpec {
  type: OptType;
  required?: boolean;
  default?: unknown;
  choices?: readonly (string | number | boolean)[];
  elements?: OptType;
  aliases?: readonly string[];
  description?: string;
}

export type Spec = Record<string, OptSpec>;

/** Where an `Opt.*` schema keeps its AnsibleModule spec. */
const ANSIBLE = "x-ansible";

/** What an option declares besides its type. */
interface Decl<T> {
  required?: boolean;
  default?: T;
  aliases?: readonly string[];
}

/** An option with neither `required` nor a default is null when not given. */
type Given = { required: true } | { default: unknown };
type Option<S extends TSchema, D> = (D extends Given ? S : TUnion<[S, TNull]>) & {
  [ANSIBLE]: OptSpec;
};

function option<S extends TSchema, D extends Decl<unknown>>(schema: S, spec: OptSpec, d: D): Option<S, D> {
  const full: OptSpec = { ...spec };
  if (d.required) full.required = true;
  if (d.default !== undefined) full.default = d.default;
  if (d.aliases?.length) full.aliases = d.aliases;
  const s = d.required || d.default !== undefined ? schema : Type.Union([schema, Type.Null()]);
  return Object.assign(s, { [ANSIBLE]: full }) as Option<S, D>;
}

const literals = <C extends string>(choices: readonly C[]) => Type.Union(choices.map((c) => Type.Literal(c)));

/** Option schemas, each with the AnsibleModule type its value is coerced to. */
export const Opt = {
  str: <const D extends Decl<string>>(d: D = {} as D) => option(Type.String(), { type: "str" }, d),
  path: <const D extends Decl<string>>(d: D = {} as D) => option(Type.String(), { type: "path" }, d),
  /** A str with choices: its type is the union of the choices. */
  choice: <C extends string, const D extends Decl<C>>(choices: readonly C[], d: D = {} as D) =>
    option(literals(choices), { type: "str", choices }, d),
  int: <const D extends Decl<number>>(d: D = {} as D) => option(Type.Integer(), { type: "int" }, d),
  bool: <const D extends Decl<boolean>>(d: D = {} as D) => option(Type.Boolean(), { type: "bool" }, d),
  dict: <const D extends Decl<Record<string, unknown>>>(d: D = {} as D) =>
    option(Type.Record(Type.String(), Type.Unknown()), { type: "dict" }, d),
  raw: <const D extends Decl<unknown>>(d: D = {} as D) => option(Type.Unknown(), { type: "raw" }, d),
  /** A list of str (AnsibleModule: type list, elements str). */
  strList: <const D extends Decl<string[]>>(d: D = {} as D) => option(Type.Array(Type.String()), { type: "list", elements: "str" }, d),
  /** A list of str with choices: its type is an array of the choices. */
  choiceList: <C extends string, const D extends Decl<C[]>>(choices: readonly C[], d: D = {} as D) =>
    option(Type.Array(literals(choices)), { type: "list", elements: "str", choices }, d),
};

/** The AnsibleModule-style spec of an object of `Opt.*` schemas. */
export function specOf(schema: TObject): Spec {
  const out: Spec = {};
  for (const [name, s] of Object.entries(schema.properties)) {
    const spec = (s as { [ANSIBLE]?: OptSpec })[ANSIBLE];
    if (!spec) throw new Error(`option ${name}: not declared with Opt.*`);
    out[name] = spec;
  }
  return out;
}

/**
 * AnsibleModule's booleans, exactly (ansible.module_utils.parsing.convert_bool): these strings
 * in any case with surrounding blanks ignored, the numbers 1 and 0 (1.0 and 0.0 are the same
 * numbers), and true and false themselves. The strings "1.0" and "0.0" are not booleans there either.
 */
export const BOOLEANS_TRUE: readonly string[] = ["y", "yes", "on", "1", "true", "t"];
export const BOOLEANS_FALSE: readonly string[] = ["n", "no", "off", "0", "false", "f"];
const TRUE: ReadonlySet<string> = new Set(BOOLEANS_TRUE);
const FALSE: ReadonlySet<string> = new Set(BOOLEANS_FALSE);

/**
 * The one boolean parser: what `v` means as an AnsibleModule boolean, or undefined when it is
 * none. Options, store options, environment variables and command-line flag values all go through it.
 */
export function parseBool(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v === "string") {
    const s = v.trim().toLowerCase();
    if (TRUE.has(s)) return true;
    if (FALSE.has(s)) return false;
  }
  return undefined;
}

/** parseBool, or an error naming `field` for a value that is not a boolean. */
export function toBool(v: unknown, field: string): boolean {
  const b = parseBool(v);
  if (b === undefined) throw invalid(field, `${JSON.stringify(v)} is not a valid boolean (use true/false, yes/no)`);
  return b;
}

export function toInt(v: unknown, field: string): number {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "string" && /^\s*[-+]?\d+\s*$/.test(v)) return Number.parseInt(v, 10);
  throw invalid(field, `${JSON.stringify(v)} cannot be converted to an int`);
}

function toStr(v: unknown, field: string): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw invalid(field, `${JSON.stringify(v)} is not a string`);
}

function toList(v: unknown, field: string, elements?: OptType): unknown[] {
  let list: unknown[];
  if (Array.isArray(v)) list = v;
  else if (typeof v === "string") list = v === "" ? [] : v.split(",").map((s) => s.trim());
  else if (typeof v === "number" || typeof v === "boolean") list = [v];
  else throw invalid(field, `${JSON.stringify(v)} is not a list`);
  return elements ? list.map((x, i) => convert(x, elements, `${field}[${i}]`)) : list;
}

function toDict(v: unknown, field: string): Record<string, unknown> {
  if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  if (typeof v === "string") {
    const s = v.trim();
    if (s.startsWith("{")) {
      try {
        const parsed = JSON.parse(s);
        if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed;
      } catch {
        // fall through to the error below
      }
    } else if (/^\S+=/.test(s)) {
      return Object.fromEntries(s.split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
    }
  }
  throw invalid(field, `${JSON.stringify(v)} is not a dictionary`);
}

function convert(v: unknown, type: OptType, field: string, elements?: OptType): unknown {
  switch (type) {
    case "str":
    case "path":
      return toStr(v, field);
    case "int":
      return toInt(v, field);
    case "bool":
      return toBool(v, field);
    case "list":
      return toList(v, field, elements);
    case "dict":
      return toDict(v, field);
    default:
      return v;
  }
}

/**
 * Validates `input` against `spec`: unknown options, required ones, types and choices. An
 * alias's value stands for its option (given both, the alias wins, as in AnsibleModule).
 */
export function coerce(spec: Spec, input: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const aliasOf = new Map<string, string>();
  for (const [name, s] of Object.entries(spec)) for (const a of s.aliases ?? []) aliasOf.set(a, name);
  const unknown = Object.keys(input).filter((k) => !(k in spec) && !aliasOf.has(k) && !k.startsWith("_ansible_"));
  if (unknown.length > 0) {
    throw invalid(
      `${prefix}${unknown[0]}`,
      `unsupported parameter (supported: ${Object.keys(spec).sort().join(", ")})`,
    );
  }
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(spec)) {
    const field = `${prefix}${name}`;
    let v = input[name];
    for (const a of s.aliases ?? []) if (input[a] !== undefined && input[a] !== null) v = input[a];
    if (v === undefined || v === null) {
      if (s.required) throw invalid(field, "is required");
      v = s.default;
      if (v === undefined) {
        out[name] = null;
        continue;
      }
    }
    const c = convert(v, s.type, field, s.elements);
    if (s.choices && !(s.type === "list" ? (c as unknown[]) : [c]).every((x) => s.choices!.includes(x as string))) {
      throw invalid(field, `${JSON.stringify(c)} is not one of: ${s.choices.join(", ")}`);
    }
    out[name] = c;
  }
  return out;
}

const specs = new WeakMap<TObject, Spec>();

/**
 * coerce() against the spec of an object of `Opt.*` schemas, typed as its Static<>. The one
 * place the coerced options become that type: coerce() checked every option against the very
 * spec the type derives from (test/unit/options.test.ts checks results against the schema too).
 */
export function coerceTo<S extends TObject>(schema: S, input: Record<string, unknown>, prefix = ""): Static<S> {
  let spec = specs.get(schema);
  if (!spec) {
    spec = specOf(schema);
    specs.set(schema, spec);
  }
  return coerce(spec, input, prefix) as Static<S>;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** "90", "90s", "15m", "12h", "7d", "2w" -> seconds. */
export function parseDuration(v: unknown, field: string): number {
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/.exec(v);
    if (m) return Number(m[1]) * UNITS[m[2] || "s"]!;
  }
  throw invalid(field, `${JSON.stringify(v)} is not a duration (examples: 3600, 90s, 15m, 12h, 7d)`);
}
