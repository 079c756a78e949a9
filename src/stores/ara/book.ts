/**
 * The ledger playbook: one Ara playbook per ledger name that holds every document record.
 *
 * - Found by its path `ansible-jobs://ledger/NAME` (a column of the playbook row itself, so it
 *   is visible as soon as the row is), labelled `ansible-jobs-ledger:NAME` for the UI and for
 *   noticing a ledger that was deleted (labels survive `ara playbook prune`).
 * - Created on the first write. Several controllers may create one at once: everybody uses the
 *   OLDEST (lowest id). A ledger younger than SETTLE_MS is re-listed once it is that old, so a
 *   controller that saw only a newer duplicate switches before it writes. A creator that lost
 *   deletes its own duplicate when it is still empty.
 * - `ara playbook prune` deletes playbooks by their `started` date: the store moves the
 *   ledger's `started` to the server's "now" once a day while the ledger is used.
 */
import { nowDate, sleep } from "../../engine/clock.js";
import { JobsError } from "../../engine/errors.js";
import { AGAIN, retry } from "../../engine/retry.js";
import { hostname } from "node:os";
import type { AraClient } from "./http.js";

export const SETTLE_MS = 3000;
export const REFRESH_AFTER_MS = 20 * 3600 * 1000;
const DUPLICATE_GRACE_MS = 10 * SETTLE_MS;

export interface LedgerBook {
  id: number;
  created: Date;
  started: Date;
  records?: number;
  /** Whether it carries the ledger's label: createLedger always sends it, so one without it is a failed create's leftover. */
  labelled: boolean;
}

export const ledgerPath = (name: string): string => `ansible-jobs://ledger/${name}`;
export const ledgerLabel = (name: string): string => `ansible-jobs-ledger:${name}`;


interface PlaybookRow {
  id: number;
  path?: string;
  created?: string;
  started?: string;
  items?: { records?: number };
  labels?: { name?: string }[];
}

export async function findLedgers(client: AraClient, name: string): Promise<{ books: LedgerBook[]; date: Date | undefined }> {
  const path = ledgerPath(name);
  const res = await client.expect("GET", "playbooks", [200], { query: { path, limit: 1000 } });
  const rows = ((res.body as { results?: PlaybookRow[] }).results ?? []).filter((r) => r.path === path && typeof r.id === "number");
  const books = rows
    .map((r) => ({
      id: r.id,
      created: new Date(r.created ?? 0),
      started: new Date(r.started ?? r.created ?? 0),
      records: r.items?.records,
      labelled: (r.labels ?? []).some((l) => l.name === ledgerLabel(name)),
    }))
    .sort((a, b) => a.id - b.id);
  return { books, date: res.date };
}

/** Whether the ledger's label exists: a ledger of that name existed before (labels outlive playbooks). */
export async function labelExists(client: AraClient, name: string): Promise<boolean> {
  const label = ledgerLabel(name);
  for (let offset = 0; offset < 100_000; ) {
    const res = await client.expect("GET", "labels", [200], { query: { limit: 1000, offset, order: "id" } });
    const body = res.body as { results?: { name?: string }[]; next?: string | null };
    const results = body.results ?? [];
    if (results.some((l) => l.name === label)) return true;
    if (!body.next || results.length === 0) return false;
    offset += results.length;
  }
  return false;
}

export async function createLedger(client: AraClient, name: string): Promise<number> {
  const body = {
    name: `ansible-jobs ledger (${name})`,
    path: ledgerPath(name),
    ansible_version: "n/a",
    status: "completed",
    controller: hostname(),
    labels: [ledgerLabel(name), "ansible-jobs"],
    arguments: {
      ansible_jobs:
        "Job ledger of the rstyczynski.ansible collection (durable long-running tasks). " +
        "Every job record lives here: deleting or pruning this playbook deletes them all.",
    },
  };
  const tries = 4;
  return retry(
    { attempts: tries, wait: () => 100 + Math.random() * 200 },
    async (attempt) => {
      const res = await client.request("POST", "playbooks", { body });
      if (res.status === 201) return (res.body as { id: number }).id;
      // A 500 here is most likely two creators racing on the label's get_or_create: try again.
      if (res.status >= 500 && attempt < tries - 1) return AGAIN;
      throw client.statusError("POST", "playbooks", res);
    },
    () => new JobsError("internal", "createLedger: out of tries"),
  );
}

export interface Discovery {
  book: LedgerBook | undefined;
  warnings: string[];
}

/**
 * Finds (and with `create`, creates) the ledger playbook and settles races between creators.
 */
export async function discoverLedger(client: AraClient, name: string, create: boolean): Promise<Discovery> {
  const warnings: string[] = [];
  let { books, date } = await findLedgers(client, name);
  let createdId: number | undefined;
  // The ledger's label without its playbook: a deleted ledger, or another controller creating
  // it right now whose playbook row is not visible yet (seen in make soak as a false "records
  // are lost" on a fresh server). Only what is still true once creation has settled is said.
  let existed = false;
  if (books.length === 0 && (await labelExists(client, name))) {
    existed = true;
    if (!create) {
      await sleep(SETTLE_MS);
      ({ books, date } = await findLedgers(client, name));
      if (books.length === 0) warnings.push(vanishedBeforeWarning(client, name, false));
    }
  }
  if (books.length === 0) {
    if (!create) return { book: undefined, warnings };
    createdId = await createLedger(client, name);
    ({ books, date } = await findLedgers(client, name));
    if (books.length === 0) {
      throw client.unavailable(`created the ledger playbook #${createdId} but cannot find it by its path ${ledgerPath(name)}`);
    }
  }
  let chosen = books[0]!;
  const serverNow = (date ?? nowDate()).getTime();
  const age = serverNow - chosen.created.getTime();
  if (age < SETTLE_MS) {
    // A younger ledger may still be joined by an older one that another controller created at
    // the same moment and that is not visible yet: look again once it has settled.
    await sleep(SETTLE_MS - Math.max(age, 0) + 50);
    ({ books, date } = await findLedgers(client, name));
    chosen = books[0] ?? chosen;
  }
  for (const b of books) {
    if (b.id === chosen.id) continue;
    const mine = b.id === createdId;
    const old = (date ?? nowDate()).getTime() - b.created.getTime() > DUPLICATE_GRACE_MS;
    // A POST that answered 500 (creators racing on the label's get_or_create) can leave its
    // playbook row behind without the label; its creator never learnt the id and made another.
    const leftover = !b.labelled;
    if (mine || old || leftover) await dropIfEmpty(client, b.id);
  }
  if (existed && createdId !== undefined && books.every((b) => b.id === createdId)) warnings.push(vanishedBeforeWarning(client, name, true));
  await refreshStarted(client, chosen, date);
  return { book: chosen, warnings };
}

/** Deletes a duplicate ledger playbook that nobody wrote into (best effort). */
async function dropIfEmpty(client: AraClient, id: number): Promise<void> {
  try {
    const res = await client.request("GET", `playbooks/${id}`);
    const records = (res.body as PlaybookRow | undefined)?.items?.records;
    if (res.status === 200 && records === 0) await client.request("DELETE", `playbooks/${id}`);
  } catch {
    // Harmless: everybody uses the oldest ledger; an empty duplicate only shows in the UI.
  }
}

/** Keeps `ara playbook prune --days N` from deleting a ledger that is in use (best effort). */
async function refreshStarted(client: AraClient, book: LedgerBook, date: Date | undefined): Promise<void> {
  if (!date || date.getTime() - book.started.getTime() < REFRESH_AFTER_MS) return;
  try {
    const res = await client.request("PATCH", `playbooks/${book.id}`, { body: { started: date.toISOString() } });
    if (res.status === 200) book.started = date;
  } catch {
    // A read-only user cannot refresh it; the documentation says how to keep prune away.
  }
}

function vanishedBeforeWarning(client: AraClient, name: string, created: boolean): string {
  return (
    `ara store ${client.display}: the ledger playbook "${ledgerPath(name)}" existed on this server before ` +
    `(its label ${ledgerLabel(name)} is still there) but is gone now, deleted or pruned (ara playbook prune): ` +
    `the job records it held are lost${created ? "; a new, empty ledger was created" : ""}. ` +
    "Jobs started before may still run on their hosts."
  );
}
