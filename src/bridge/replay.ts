/**
 * The journal replay that the job_ledger callback runs once per task (its own journal, whose
 * lock it holds) and at playbook start (journals left by killed runs), and that `ansible-jobs
 * replay` runs: every launch into its store through the Ledger (src/engine/journal.ts).
 */
import { Ledger } from "../engine/ledger.js";
import { type JournalLaunch, type ReplayOutcome, journalDir, journals, replayJournal } from "../engine/journal.js";
import { openStore } from "../stores/open.js";
import type { Store } from "../stores/types.js";

export interface ReplayRequest {
  /** The journal directory (default: $ANSIBLE_JOB_LEDGER_DIR, else ~/.ansible/job_ledger). */
  dir?: string | null;
  /** The caller's own journal: replayed without taking its lock (the caller holds it). */
  own?: string | null;
  /** Also replay every other journal of the directory that no live process holds. */
  orphans?: boolean;
}

export interface ReplayResponse {
  changed: boolean;
  failed: boolean;
  msg: string;
  dir: string;
  journals: (Omit<ReplayOutcome, "recorded" | "failedStores" | "parseErrors"> & { recorded: number })[];
  warnings: string[];
}

/** Replays; a store that does not answer is a warning (its launches stay in the journal), never a failure. */
export async function replay(req: ReplayRequest, label = "job_ledger"): Promise<ReplayResponse> {
  const dir = journalDir(req.dir);
  const stores = new Map<string, Promise<{ store: Store; ledger: Ledger }>>();
  const ledgerFor = async (url: string, l: JournalLaunch) => {
    let s = stores.get(url);
    if (!s) {
      s = openStore(url, { ara: { play_id: l.play_id, playbook: l.playbook } }).then((store) => ({ store, ledger: new Ledger(store) }));
      stores.set(url, s);
    }
    return (await s).ledger;
  };
  const files = [...(req.own ? [req.own] : []), ...(req.orphans ? journals(dir).filter((f) => f !== req.own) : [])];
  const outcomes: ReplayOutcome[] = [];
  const warnings: string[] = [];
  try {
    for (const f of files) outcomes.push(await replayJournal(f, ledgerFor, f === req.own));
  } finally {
    for (const s of stores.values()) {
      try {
        const { store } = await s;
        await store.close?.();
        for (const n of store.warnings ?? []) warnings.push(n);
      } catch {
        /* the store did not open: its error is in the outcome */
      }
    }
  }
  for (const o of outcomes) {
    for (const [url, { error, pending }] of Object.entries(o.failedStores)) {
      warnings.push(
        `${label}: the job store ${url} did not take ${pending} launch(es) (${error}); they stay in the journal ${o.file} ` +
          "and are recorded by the next run with the job_ledger callback, or by `ansible-jobs replay`",
      );
    }
    for (const e of o.parseErrors) warnings.push(`${label}: ${e}`);
  }
  const recorded = outcomes.reduce((n, o) => n + o.recorded.length, 0);
  const pending = outcomes.reduce((n, o) => n + o.pending, 0);
  return {
    changed: recorded > 0,
    failed: false,
    dir,
    msg: `recorded ${recorded} launch(es) from ${outcomes.filter((o) => !o.busy).length} journal(s)${pending ? `; ${pending} kept in the journal` : ""}`,
    journals: outcomes.map(({ recorded: r, failedStores: _f, parseErrors: _p, ...rest }) => ({ ...rest, recorded: r.length })),
    warnings,
  };
}
