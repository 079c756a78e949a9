/** Option coercion the way AnsibleModule does it, and the job_store spec against its documentation. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { describe, test } from "node:test";
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { JOB_STORE_OPTIONS, JOB_STORE_SPEC } from "../../src/bridge/spec.js";
import { Opt, coerce, coerceTo, parseDuration, specOf } from "../../src/engine/options.js";
import { COLL } from "../helpers/ansible.js";

/** DOCUMENTATION, EXAMPLES and RETURN of a docs-only module, parsed the way ansible-doc reads them. */
const PARSE_DOCS = [
  "import ast, json, sys, yaml",
  "tree = ast.parse(open(sys.argv[1]).read())",
  "docs = {n.targets[0].id: yaml.safe_load(n.value.value) for n in tree.body",
  "        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)}",
  "print(json.dumps(docs))",
].join("\n");
const yaml = (file: string): unknown =>
  JSON.parse(execFileSync("/usr/bin/python3", ["-c", "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", file], { encoding: "utf8" }));
const moduleDocs = (file: string): unknown => JSON.parse(execFileSync("/usr/bin/python3", ["-c", PARSE_DOCS, file], { encoding: "utf8" }));

describe("coerce", () => {
  const spec = {
    n: { type: "int" as const, default: 5 },
    b: { type: "bool" as const },
    l: { type: "list" as const, elements: "str" as const },
    s: { type: "str" as const, choices: ["a", "b"] },
    r: { type: "str" as const, required: true },
  };
  test("strings become ints and bools, comma strings lists, numbers strings", () => {
    assert.deepEqual(coerce(spec, { n: "3600", b: "yes", l: "x, y", s: "a", r: 7 }), { n: 3600, b: true, l: ["x", "y"], s: "a", r: "7" });
    assert.deepEqual(coerce(spec, { b: "off", r: "x" }), { n: 5, b: false, l: null, s: null, r: "x" });
    assert.deepEqual(coerce(spec, { b: 1, l: ["p", 2], r: "x" }).l, ["p", "2"]);
  });
  test("errors name the field", () => {
    assert.throws(() => coerce(spec, {}), /^Error: r: is required$|r: is required/);
    assert.throws(() => coerce(spec, { r: "x", n: "soon" }), /n: "soon" cannot be converted to an int/);
    assert.throws(() => coerce(spec, { r: "x", n: 1.5 }), /n: 1.5 cannot be converted to an int/);
    assert.throws(() => coerce(spec, { r: "x", b: "maybe" }), /b: "maybe" is not a valid boolean/);
    assert.throws(() => coerce(spec, { r: "x", s: "c" }), /s: "c" is not one of: a, b/);
    assert.throws(() => coerce(spec, { r: "x", bogus: 1 }), /bogus: unsupported parameter \(supported: b, l, n, r, s\)/);
    assert.doesNotThrow(() => coerce(spec, { r: "x", _ansible_check_mode: true }));
  });
  test("durations", () => {
    assert.equal(parseDuration("90", "d"), 90);
    assert.equal(parseDuration("15m", "d"), 900);
    assert.equal(parseDuration("7d", "d"), 604800);
    assert.throws(() => parseDuration("soon", "older_than"), /older_than: "soon" is not a duration/);
  });
});

describe("options declared once as a typebox schema", () => {
  const schema = Type.Object({
    n: Opt.int({ default: 5 }),
    b: Opt.bool(),
    l: Opt.strList(),
    s: Opt.choice(["a", "b"]),
    r: Opt.str({ required: true, aliases: ["rr", "r2"] }),
    c: Opt.choiceList(["x", "y"]),
    d: Opt.dict(),
    p: Opt.path(),
    w: Opt.raw(),
  });
  test("the spec says what each Opt declares", () => {
    assert.deepEqual(specOf(schema), {
      n: { type: "int", default: 5 },
      b: { type: "bool" },
      l: { type: "list", elements: "str" },
      s: { type: "str", choices: ["a", "b"] },
      r: { type: "str", required: true, aliases: ["rr", "r2"] },
      c: { type: "list", elements: "str", choices: ["x", "y"] },
      d: { type: "dict" },
      p: { type: "path" },
      w: { type: "raw" },
    });
  });
  test("an alias stands for its option; given both, the alias wins (AnsibleModule)", () => {
    assert.equal(coerceTo(schema, { rr: "x" }).r, "x");
    assert.equal(coerceTo(schema, { r: "x", r2: "y" }).r, "y");
    assert.throws(() => coerceTo(schema, { rx: "x" }), /rx: unsupported parameter \(supported: b, c, d, l, n, p, r, s, w\)/);
  });
  test("coerced options are values of the schema's Static type", () => {
    const inputs: Record<string, unknown>[] = [
      { r: "x" },
      { r: 7, n: "3600", b: "yes", l: "p, q", s: "a", c: "x,y", d: "k=v", p: "/tmp", w: { any: [1] } },
      { r: "x", b: 0, l: ["p", 2], c: [], d: '{"a": 1}', w: null },
    ];
    for (const input of inputs) {
      const out = coerceTo(schema, input);
      assert.ok(Value.Check(schema, out), `${JSON.stringify(input)} -> ${JSON.stringify(out)}: ${[...Value.Errors(schema, out)].map((e) => `${e.path} ${e.message}`).join("; ")}`);
    }
    const args = coerceTo(JOB_STORE_OPTIONS, { op: "list", statuses: "failed,lost", stale_after: "60", claim: "no", hosts: "a,b", store_options: { region: "x" } });
    assert.ok(Value.Check(JOB_STORE_OPTIONS, args), [...Value.Errors(JOB_STORE_OPTIONS, args)].map((e) => `${e.path} ${e.message}`).join("; "));
    assert.deepEqual(args.statuses, ["failed", "lost"]);
    assert.equal(args.stale_after, 60);
  });
});

describe("job_store documentation matches the engine's option spec", () => {
  test("every option, type, default and choice list agrees with plugins/modules/job_store.py", () => {
    const doc = moduleDocs(path.join(COLL, "plugins", "modules", "job_store.py")) as {
      DOCUMENTATION: {
        options: Record<string, { type: string; default?: unknown; choices?: unknown[]; required?: boolean; elements?: string; aliases?: string[] }>;
      };
    };
    const opts = doc.DOCUMENTATION.options;
    assert.deepEqual(Object.keys(opts).sort(), Object.keys(JOB_STORE_SPEC).sort());
    for (const [name, s] of Object.entries(JOB_STORE_SPEC)) {
      const d = opts[name]!;
      assert.equal(d.type, s.type, `${name}: type`);
      assert.deepEqual(d.default, s.default, `${name}: default`);
      assert.deepEqual(d.choices, s.choices ? [...s.choices] : undefined, `${name}: choices`);
      assert.equal(d.required ?? false, s.required ?? false, `${name}: required`);
      assert.equal(d.elements, s.elements, `${name}: elements`);
      assert.deepEqual(d.aliases, s.aliases ? [...s.aliases] : undefined, `${name}: aliases`);
    }
  });

  test("each role's defaults hold exactly its optional argument_specs options; outputs are declared, never required nor defaulted", () => {
    const outputs: Record<string, string[]> = {};
    for (const role of ["long_running_task", "async_job_save", "async_job_load"]) {
      const specs = yaml(path.join(COLL, "roles", role, "meta", "argument_specs.yml")) as {
        argument_specs: { main: { options: Record<string, { required?: boolean; default?: unknown; description?: string | string[] }> } };
      };
      const defaults = (yaml(path.join(COLL, "roles", role, "defaults", "main.yml")) ?? {}) as Record<string, unknown>;
      const isOutput = (o: { description?: string | string[] }) => [o.description ?? ""].flat()[0]!.startsWith("[OUTPUT]");
      const all = Object.entries(specs.argument_specs.main.options);
      outputs[role] = all.filter(([, o]) => isOutput(o)).map(([k]) => k);
      for (const [k, o] of all.filter(([, o]) => isOutput(o))) {
        assert.ok(!o.required && o.default === undefined, `${role}: output ${k} is required or has a default`);
      }
      const optional = all.filter(([, o]) => !o.required && !isOutput(o));
      assert.deepEqual(Object.keys(defaults).sort(), optional.map(([k]) => k).sort(), role);
      for (const [k, o] of optional) assert.deepEqual(defaults[k], o.default, `${role}: ${k}`);
    }
    assert.deepEqual(outputs, {
      long_running_task: ["long_running_task_found", "long_running_task_job", "long_running_task_status"],
      async_job_save: ["async_job_save_job", "async_job_save_jobs", "async_job_save_state_file"],
      async_job_load: [
        "async_job_load_found",
        "async_job_load_job",
        "async_job_load_status",
        "async_job_load_ansible_job_id",
        "async_job_load_host",
        "async_job_load_metadata",
      ],
    });
  });
});
