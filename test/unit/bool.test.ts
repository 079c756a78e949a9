/** The one boolean parser: exactly AnsibleModule's true and false sets, and a rejected value's message. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, test } from "node:test";
import { BOOLEANS_FALSE, BOOLEANS_TRUE, parseBool, toBool } from "../../src/engine/options.js";
import { ANSIBLE_PYTHON } from "../helpers/tools.js";

const TRUE_WORDS = ["y", "yes", "on", "1", "true", "t"];
const FALSE_WORDS = ["n", "no", "off", "0", "false", "f"];
/** Values no boolean: near misses of the sets above included. */
const NOT_BOOLEANS = ["", " ", "1.0", "0.0", "2", "-1", "ye", "nope", "tru", "enable", "disabled", "none", "null", "yes please", "o", "of"];

const variants = (w: string): string[] => [w, w.toUpperCase(), w[0]!.toUpperCase() + w.slice(1), ` ${w}`, `${w} `, `\t${w}\n`];

describe("parseBool", () => {
  test("the true and false sets are AnsibleModule's, nothing more", () => {
    assert.deepEqual([...BOOLEANS_TRUE].sort(), [...TRUE_WORDS].sort());
    assert.deepEqual([...BOOLEANS_FALSE].sort(), [...FALSE_WORDS].sort());
  });

  test("each word in any case, surrounding blanks ignored", () => {
    for (const w of TRUE_WORDS) for (const v of variants(w)) assert.equal(parseBool(v), true, JSON.stringify(v));
    for (const w of FALSE_WORDS) for (const v of variants(w)) assert.equal(parseBool(v), false, JSON.stringify(v));
  });

  test("booleans themselves and the numbers 1 and 0 (1.0 and 0.0)", () => {
    assert.equal(parseBool(true), true);
    assert.equal(parseBool(false), false);
    assert.equal(parseBool(1), true);
    assert.equal(parseBool(0), false);
    assert.equal(parseBool(1.0), true);
    assert.equal(parseBool(0.0), false);
  });

  test("anything else is no boolean", () => {
    for (const v of [...NOT_BOOLEANS, 2, -1, 0.5, Number.NaN, null, undefined, [], {}, ["yes"]]) {
      assert.equal(parseBool(v), undefined, JSON.stringify(v));
    }
  });

  test("toBool names the option and the value it rejects", () => {
    assert.equal(toBool("Yes", "claim"), true);
    assert.throws(() => toBool("maybe", "claim"), { message: 'claim: "maybe" is not a valid boolean (use true/false, yes/no)' });
    assert.throws(() => toBool("1.0", "s3.path_style"), { message: 's3.path_style: "1.0" is not a valid boolean (use true/false, yes/no)' });
    assert.throws(() => toBool(2, "ANSIBLE_JOBS_S3_PATH_STYLE"), { message: "ANSIBLE_JOBS_S3_PATH_STYLE: 2 is not a valid boolean (use true/false, yes/no)" });
  });

  test("agrees with ansible's own boolean() on every value above", (t) => {
    const strings = [...TRUE_WORDS.flatMap(variants), ...FALSE_WORDS.flatMap(variants), ...NOT_BOOLEANS];
    const numbers = [1, 0, 1.0, 0.0, 2, -1, 0.5];
    const script = [
      "import json, sys",
      "from ansible.module_utils.parsing.convert_bool import boolean",
      "def b(v):",
      "    try:",
      "        return boolean(v, strict=True)",
      "    except TypeError:",
      "        return None",
      "print(json.dumps([b(v) for v in json.loads(sys.argv[1])] + [b(float(v)) for v in json.loads(sys.argv[2])]))",
    ].join("\n");
    let out: string;
    try {
      out = execFileSync(ANSIBLE_PYTHON, ["-c", script, JSON.stringify(strings), JSON.stringify(numbers)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      t.skip(`no ansible for ${ANSIBLE_PYTHON} (set LRT_ANSIBLE_PYTHON): ${(err as Error).message.split("\n")[0]}`);
      return;
    }
    const theirs = JSON.parse(out) as (boolean | null)[];
    const ours = [...strings, ...numbers].map((v) => parseBool(v) ?? null);
    assert.deepEqual(ours, theirs);
  });
});
