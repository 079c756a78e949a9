/**
 * The ledger playbook as this process knows it: found (or created) once, shared by concurrent
 * callers, checked to be alive (an absent record means nothing once the ledger is gone), and
 * the server's clock, read from the ledger playbook's answer.
 */
import { now } from "../../engine/clock.js";
import { JobsError } from "../../engine/errors.js";
import { type LedgerBook, discoverLedger, ledgerPath } from "./book.js";
import type { AraClient, AraResponse } from "./http.js";

const ALIVE_CHECK_MS = 1000;

export class LedgerSession {
  private current: LedgerBook | undefined;
  private discovering: Promise<LedgerBook | undefined> | undefined;
  private discoveringForWrite: Promise<LedgerBook | undefined> | undefined;
  private gone: JobsError | undefined;
  private lastAlive = 0;

  constructor(
    private readonly client: AraClient,
    readonly ledgerName: string,
    private readonly warn: (msg: string) => void,
  ) {}

  /** The ledger playbook, if known (for messages). */
  get book(): LedgerBook | undefined {
    return this.current;
  }

  /** The error every operation gets once the ledger playbook was found deleted. */
  get vanished(): JobsError | undefined {
    return this.gone;
  }

  /** The ledger playbook; with `create`, created when there is none yet. */
  async ledgerFor(create: boolean): Promise<LedgerBook | undefined> {
    if (this.gone) throw this.gone;
    if (this.current) return this.current;
    let p: Promise<LedgerBook | undefined>;
    if (create) {
      this.discoveringForWrite ??= this.discover(true).finally(() => {
        this.discoveringForWrite = undefined;
      });
      p = this.discoveringForWrite;
    } else {
      this.discovering ??= this.discover(false).finally(() => {
        this.discovering = undefined;
      });
      p = this.discovering;
    }
    const book = await p;
    if (create && !book) throw new JobsError("internal", `ara store ${this.client.display}: the ledger could not be created`);
    return book;
  }

  private async discover(create: boolean): Promise<LedgerBook | undefined> {
    if (this.current) return this.current;
    const d = await discoverLedger(this.client, this.ledgerName, create);
    for (const w of d.warnings) this.warn(w);
    if (d.book) {
      this.current = d.book;
      this.lastAlive = now();
    }
    return d.book;
  }

  private vanishedError(book: LedgerBook): JobsError {
    return this.client.unavailable(
      `the ledger playbook #${book.id} (${ledgerPath(this.ledgerName)}) no longer exists: it was deleted, ` +
        "perhaps by `ara playbook prune` or from the UI, and every job record it held is gone with it. " +
        "The next run creates a new, empty ledger; jobs started before may still be running on their hosts.",
    );
  }

  /** Records that the ledger playbook is gone; returns the error to throw. */
  markVanished(book: LedgerBook): JobsError {
    this.gone ??= this.vanishedError(book);
    this.current = undefined;
    return this.gone;
  }

  /** Throws when the ledger playbook is gone: an absent record then means nothing. */
  async checkAlive(book: LedgerBook, force = false): Promise<void> {
    if (!force && now() - this.lastAlive < ALIVE_CHECK_MS) return;
    const res = await this.client.request("GET", `playbooks/${book.id}`);
    if (res.status === 404) throw this.markVanished(book);
    if (res.status !== 200) throw this.client.statusError("GET", `playbooks/${book.id}`, res);
    this.lastAlive = now();
  }

  /** The server's clock (HTTP Date), from the ledger playbook when there is one. */
  async serverNow(): Promise<Date> {
    if (this.gone) throw this.gone;
    const book = this.current;
    let res: AraResponse;
    if (book) {
      res = await this.client.request("GET", `playbooks/${book.id}`);
      if (res.status === 404) throw this.markVanished(book);
      if (res.status !== 200) throw this.client.statusError("GET", `playbooks/${book.id}`, res);
    } else {
      res = await this.client.expect("GET", "", [200]);
    }
    if (!res.date) throw this.client.unavailable("the server sent no Date header, so its clock is unknown");
    return res.date;
  }
}
