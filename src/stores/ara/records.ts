/**
 * Reading Ara records: one row by its exact key, one record with its value, every row of a
 * playbook. Rows come from the list endpoint, which leaves out `value`.
 */
import type { AraClient } from "./http.js";

const LIST_PAGE = 1000;

/** A record as the list endpoint shows it (no value). */
export interface Row {
  id: number;
  key: string;
  type: string;
  playbook: number | { id: number };
  updated?: string;
}

/** A record with its value. */
export interface Detail {
  id: number;
  key: string;
  type: string;
  playbookId: number;
  updated: Date | undefined;
  value: unknown;
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function playbookIdOf(p: unknown): number | undefined {
  if (typeof p === "number") return p;
  if (isObj(p) && typeof p.id === "number") return p.id;
  return undefined;
}

/** The record of a playbook with exactly this key (Ara's key filter). */
export async function findRow(client: AraClient, playbook: number, araKey: string): Promise<Row | undefined> {
  const res = await client.expect("GET", "records", [200], { query: { playbook, key: araKey, limit: 2 } });
  const rows = (res.body as { results?: Row[] }).results ?? [];
  return rows.find((r) => r.key === araKey);
}

/** Record `id` with its value; undefined when it is gone or belongs to another playbook. */
export async function fetchDetail(client: AraClient, playbook: number, id: number): Promise<Detail | undefined> {
  const res = await client.request("GET", `records/${id}`);
  if (res.status === 404) return undefined;
  if (res.status !== 200 || !isObj(res.body)) throw client.statusError("GET", `records/${id}`, res);
  const b = res.body;
  const playbookId = playbookIdOf(b.playbook);
  if (playbookId !== playbook) return undefined; // a hint pointing elsewhere: treat as missing
  const updated = typeof b.updated === "string" ? new Date(b.updated) : undefined;
  return {
    id,
    key: String(b.key),
    type: String(b.type),
    playbookId,
    updated: updated && !Number.isNaN(updated.getTime()) ? updated : undefined,
    value: b.value,
  };
}

/** Keys, ids and types of every record of a playbook (the list endpoint has no values). */
export async function allRows(client: AraClient, playbook: number): Promise<Row[]> {
  const out: Row[] = [];
  for (let offset = 0; ; ) {
    const res = await client.expect("GET", "records", [200], {
      query: { playbook, order: "id", limit: LIST_PAGE, offset },
    });
    const body = res.body as { results?: Row[]; next?: string | null };
    const rows = body.results ?? [];
    out.push(...rows);
    if (!body.next || rows.length === 0) return out;
    offset += rows.length;
  }
}
