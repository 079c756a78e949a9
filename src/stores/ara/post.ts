/**
 * Writing version N of a document: one POST that only one writer can win, thanks to Ara's
 * unique (key, playbook) pair. Answers that do not say who won (a 500, a 502-504, no answer)
 * are settled by reading version N back: the winner's nonce is in it.
 */
import { randomBytes } from "node:crypto";
import { AGAIN, type Again, retry } from "../../engine/retry.js";
import type { Key } from "../types.js";
import type { LedgerBook } from "./book.js";
import { type Payload, envelope } from "./envelope.js";
import { type AraClient, type AraResponse, isTransient } from "./http.js";
import { versionKey } from "./keys.js";
import { fetchDetail, findRow, isObj } from "./records.js";
import type { LedgerSession } from "./session.js";

const POST_ATTEMPTS = 4;

export type PostOutcome = { won: true; id: number; updated: Date | undefined } | { won: false };

/**
 * POSTs version N with record type `type`. `won: false` means another writer holds version N
 * (the unique (key, playbook) pair refused ours: HTTP 400, or 500 when the database caught the race).
 */
export async function postVersion(
  client: AraClient,
  session: LedgerSession,
  book: LedgerBook,
  key: Key,
  docKey: string,
  n: number,
  type: string,
  payload: Payload,
): Promise<PostOutcome> {
  const nonce = randomBytes(12).toString("hex");
  const araKey = versionKey(docKey, n);
  const body = { playbook: book.id, key: araKey, type, value: envelope(key, n, nonce, payload) };
  let last = "";
  return retry(
    { attempts: POST_ATTEMPTS, wait: (attempt) => 100 * 2 ** attempt + Math.random() * 100, waitAfterLast: true },
    async (attempt): Promise<PostOutcome | Again> => {
      let res: AraResponse | undefined;
      try {
        res = await client.request("POST", "records", { body });
      } catch (err) {
        if (!isTransient(err) || attempt === POST_ATTEMPTS - 1) throw err;
        last = (err as Error).message;
      }
      if (res?.status === 201 && isObj(res.body) && typeof res.body.id === "number") {
        const u = typeof res.body.updated === "string" ? new Date(res.body.updated) : undefined;
        return { won: true, id: res.body.id, updated: u && !Number.isNaN(u.getTime()) ? u : undefined };
      }
      if (res?.status === 400) {
        const text = JSON.stringify(res.body ?? "");
        if (isObj(res.body) && "playbook" in res.body && /object does not exist|invalid pk/i.test(text)) {
          throw session.markVanished(book);
        }
        // Django REST framework's UniqueTogetherValidator: refused before any insert.
        if (isObj(res.body) && "non_field_errors" in res.body && /unique/i.test(text)) return { won: false };
      } else if (res && res.status !== 500 && res.status < 502) {
        throw client.statusError("POST", "records", res);
      }
      if (res) last = `HTTP ${res.status}`;
      // 400 (duplicate), 500 (duplicate caught by the database, or a database error),
      // 502-504 or no answer: whoever holds version N now decides.
      const row = await findRow(client, book.id, araKey);
      if (row) {
        const det = await fetchDetail(client, book.id, row.id);
        if (det && isObj(det.value) && det.value.nonce === nonce) {
          return { won: true, id: row.id, updated: det.updated };
        }
        return { won: false };
      }
      if (res?.status === 400) throw client.statusError("POST", "records", res);
      await session.checkAlive(book, true);
      return AGAIN;
    },
    () => client.unavailable(`POST ${client.api("records")} keeps failing (${last}); the Ara server or its database is in trouble`),
  );
}
