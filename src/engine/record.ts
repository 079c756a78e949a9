/**
 * The job record: one JSON document per attempt, validated on every read and write.
 * The JSON Schema is exported (`ansible-jobs schema`) so scripts can check CLI output.
 */
import { FormatRegistry, type Static, Type as T } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { nowDate } from "./clock.js";
import { JobsError, invalid } from "./errors.js";
import { STATUSES } from "./status.js";

export const SCHEMA_VERSION = 1;

/** Bounds keep records small whatever the job printed. */
export const LIMITS = { tail: 8192, msg: 2048, error: 2048, text: 1024, metadata: 8192, metadataKeys: 64, metadataKey: 256 } as const;

const Str = T.String({ maxLength: LIMITS.text });
const NullableStr = T.Union([Str, T.Null()]);
const Iso = T.String({ format: "date-time", maxLength: 40 });
const NullableIso = T.Union([Iso, T.Null()]);

export const Incarnation = T.Object(
  {
    boot_id: T.Optional(T.Union([T.String({ maxLength: 64 }), T.Null()])),
    boot_time: T.Optional(T.Union([T.Number(), T.Null()])),
    pid1_start: T.Optional(T.Union([T.Number(), T.Null()])),
  },
  { additionalProperties: false },
);

export const JobResult = T.Object(
  {
    rc: T.Optional(T.Union([T.Integer(), T.Null()])),
    msg: T.Optional(T.String({ maxLength: LIMITS.msg })),
    failed: T.Optional(T.Boolean()),
    changed: T.Optional(T.Boolean()),
    stdout_tail: T.Optional(T.String({ maxLength: LIMITS.tail })),
    stderr_tail: T.Optional(T.String({ maxLength: LIMITS.tail })),
    truncated: T.Optional(T.Boolean()),
  },
  { additionalProperties: false },
);

/**
 * What the playbook attached to the job (the earlier roles' `metadata`): a JSON object kept as
 * given and returned by load. Bounded: at most LIMITS.metadataKeys keys of 1..LIMITS.metadataKey
 * characters and LIMITS.metadata characters of JSON (checkMetadata on save; the key count and
 * the JSON length on every read: TypeBox's record keys do not check their lengths).
 */
export const Metadata = T.Record(T.String({ minLength: 1, maxLength: LIMITS.metadataKey }), T.Unknown(), { maxProperties: LIMITS.metadataKeys });

export const JobRecord = T.Object(
  {
    schema: T.Literal(SCHEMA_VERSION),
    id: T.String({ minLength: 1, maxLength: 64 }),
    namespace: T.String({ minLength: 1, maxLength: LIMITS.text }),
    name: T.String({ minLength: 1, maxLength: LIMITS.text }),
    host: T.String({ minLength: 1, maxLength: LIMITS.text }),
    attempt: T.Integer({ minimum: 1 }),
    status: T.Union(STATUSES.map((s) => T.Literal(s))),
    jid: NullableStr,
    results_file: NullableStr,
    async_timeout: T.Union([T.Integer({ minimum: 0 }), T.Null()]),
    host_incarnation: T.Union([Incarnation, T.Null()]),
    session_id: T.Union([T.Integer(), T.Null()]),
    claim_token: NullableStr,
    output_files: T.Union([
      T.Object({ stdout: T.Optional(Str), stderr: T.Optional(Str) }, { additionalProperties: false }),
      T.Null(),
    ]),
    playbook: NullableStr,
    play: NullableStr,
    play_id: NullableStr,
    task: NullableStr,
    controller: NullableStr,
    started_at: Iso,
    updated_at: Iso,
    finished_at: NullableIso,
    checked_at: NullableIso,
    cleaned_at: NullableIso,
    last_error: T.Union([T.String({ maxLength: LIMITS.error }), T.Null()]),
    no_log: T.Boolean(),
    result: T.Union([JobResult, T.Null()]),
    // Optional, so records written before it existed stay valid (schema 1).
    metadata: T.Optional(Metadata),
  },
  { additionalProperties: false, $id: "https://rstyczynski.github.io/ansible/job-record.schema.json" },
);
export type JobRecord = Static<typeof JobRecord>;
export type JobResult = Static<typeof JobResult>;
export type Incarnation = Static<typeof Incarnation>;
export type Metadata = Static<typeof Metadata>;

/** The metadata as it may be kept: a JSON object within the bounds, else `invalid` naming `field`. */
export function checkMetadata(value: unknown, field: string): Metadata {
  if (!value || typeof value !== "object" || Array.isArray(value)) throw invalid(field, "must be a dictionary");
  const keys = Object.keys(value);
  if (keys.length > LIMITS.metadataKeys) throw invalid(field, `has ${keys.length} keys (max ${LIMITS.metadataKeys})`);
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw invalid(field, `is not JSON data (${(err as Error).message})`);
  }
  if (json.length > LIMITS.metadata) throw invalid(field, `is ${json.length} characters of JSON (max ${LIMITS.metadata})`);
  const bad = keys.find((k) => k.length === 0 || k.length > LIMITS.metadataKey);
  if (bad !== undefined) throw invalid(field, `key ${JSON.stringify(bad.slice(0, 40))} must be 1..${LIMITS.metadataKey} characters`);
  return JSON.parse(json) as Metadata;
}

/**
 * Whether metadata read from a record is longer than LIMITS.metadata characters of JSON. A
 * quick upper bound of its JSON length settles nearly every record without building the JSON
 * (every record read checks it); only metadata near the limit is stringified.
 */
function metadataTooLong(meta: unknown): boolean {
  return jsonLengthBound(meta, LIMITS.metadata) > LIMITS.metadata && JSON.stringify(meta).length > LIMITS.metadata;
}

/** At least the length of JSON.stringify(v) (a string may need 6 characters per character); stops once past `budget`. */
function jsonLengthBound(v: unknown, budget: number): number {
  if (typeof v === "string") return 2 + 6 * v.length;
  if (typeof v === "number") return 24;
  if (typeof v === "boolean") return 5;
  if (v === null) return 4;
  // Not from JSON (or made JSON by its toJSON): let JSON.stringify measure it.
  if (typeof v !== "object" || typeof (v as { toJSON?: unknown }).toJSON === "function") return Number.POSITIVE_INFINITY;
  let n = 2;
  if (Array.isArray(v)) {
    for (const x of v) {
      n += 1 + jsonLengthBound(x, budget - n);
      if (n > budget) return n;
    }
    return n;
  }
  for (const [k, x] of Object.entries(v)) {
    n += 4 + 6 * k.length + jsonLengthBound(x, budget - n);
    if (n > budget) return n;
  }
  return n;
}

// TypeBox checks `format` only for registered formats; date-time is the one we use.
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has("date-time")) FormatRegistry.Set("date-time", (v) => ISO_RE.test(v));

let compiled: ReturnType<typeof TypeCompiler.Compile<typeof JobRecord>> | undefined;
function checker() {
  compiled ??= TypeCompiler.Compile(JobRecord);
  return compiled;
}

/**
 * JobRecord's check, split in two for speed (a list validates every record it reads): the
 * compiled check of the same fields without the top level's `additionalProperties: false`,
 * then that rule as one Set lookup per key (TypeBox's code for it scans the 28 names with
 * Array.includes for each key: most of the check's time). The whole compiled schema still
 * gives the errors.
 */
let fieldsCompiled: ReturnType<typeof TypeCompiler.Compile> | undefined;
const RECORD_KEYS = new Set(Object.keys(JobRecord.properties));
function check(value: unknown): value is JobRecord {
  fieldsCompiled ??= TypeCompiler.Compile(T.Object(JobRecord.properties));
  if (!fieldsCompiled.Check(value)) return false;
  for (const key of Object.getOwnPropertyNames(value)) if (!RECORD_KEYS.has(key)) return false;
  return true;
}

/** Whether a value is a valid job record (no error built: for filters that see every document). */
export function isRecord(value: unknown): value is JobRecord {
  return check(value);
}

/** Returns the record or throws `corrupt`, naming `where` (a file, a key) and the first problem. */
export function validateRecord(value: unknown, where: string): JobRecord {
  if (check(value)) {
    if (value.metadata !== undefined && metadataTooLong(value.metadata)) {
      throw new JobsError("corrupt", `${where}: not a valid job record (/metadata is longer than ${LIMITS.metadata} characters of JSON)`);
    }
    return value;
  }
  if (value && typeof value === "object" && "schema" in value && (value as { schema: unknown }).schema !== SCHEMA_VERSION) {
    throw new JobsError(
      "corrupt",
      `${where}: record schema ${JSON.stringify((value as { schema: unknown }).schema)} is not supported (this version reads schema ${SCHEMA_VERSION})`,
    );
  }
  const first = checker().Errors(value).First();
  const detail = first ? `${first.path || "/"} ${first.message}` : "not a job record";
  throw new JobsError("corrupt", `${where}: not a valid job record (${detail})`);
}

/** The tail of a string, bounded in characters; `cut` tells whether anything was dropped. */
export function tail(s: string, max: number): { text: string; cut: boolean } {
  if (s.length <= max) return { text: s, cut: false };
  return { text: s.slice(s.length - max), cut: true };
}

export function nowIso(d: Date = nowDate()): string {
  return d.toISOString();
}
