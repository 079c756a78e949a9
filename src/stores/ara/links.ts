/**
 * Links to the run: a record on the playbook of the play that started or resumed a job, so the
 * job shows up in Ara's UI next to the run. What a link is called and shows is the engine's
 * (DocumentHooks.link); this file finds the run's playbook by its play's uuid and writes it,
 * and gives that playbook's page in Ara's UI (the dashboard's link to the run).
 */
import type { DocumentLink, Key } from "../types.js";
import type { LedgerBook } from "./book.js";
import type { AraClient } from "./http.js";
import { TYPE_LINK, boundedKey } from "./keys.js";
import { findRow, isObj, playbookIdOf } from "./records.js";

export class RunLinks {
  private readonly playbookOfPlay = new Map<string, Promise<number | undefined>>();
  private readonly linkIds = new Map<string, number>();

  constructor(
    private readonly client: AraClient,
    private readonly warn: (msg: string) => void,
  ) {}

  private async playbookOf(uuid: string): Promise<number | undefined> {
    let p = this.playbookOfPlay.get(uuid);
    if (!p) {
      p = (async () => {
        const res = await this.client.request("GET", "plays", { query: { uuid, limit: 1 } });
        if (res.status !== 200 || !isObj(res.body)) return undefined; // 400: not a uuid
        const first = (res.body.results as unknown[] | undefined)?.[0];
        return isObj(first) ? playbookIdOf(first.playbook) : undefined;
      })();
      this.playbookOfPlay.set(uuid, p);
    }
    return p;
  }

  /**
   * The Ara page of the playbook that holds play `uuid`. Best effort: undefined when Ara does
   * not know the play (a run without Ara's callback) or cannot be asked; neither answer is
   * remembered, as Ara may know the play next time.
   */
  async runPage(uuid: string): Promise<string | undefined> {
    try {
      const pb = await this.playbookOf(uuid);
      if (pb !== undefined) return this.client.ui("playbooks", pb);
    } catch {
      // unreachable or refused: no link
    }
    this.playbookOfPlay.delete(uuid);
    return undefined;
  }

  /**
   * Writes (or refreshes) the link on the playbook of play `playId` (else the play the document
   * names). Best effort: a run without Ara's callback has no such playbook, and a failed link
   * never fails the write (it becomes a warning).
   */
  async write(book: LedgerBook, key: Key, docKey: string, recordId: number, link: DocumentLink, playId: string | null | undefined): Promise<void> {
    const uuid = playId ?? link.playId;
    if (!uuid) return;
    try {
      const pb = await this.playbookOf(uuid);
      if (pb === undefined || pb === book.id) return;
      const linkKey = boundedKey(link.name);
      const linkValue = {
        ...link.fields,
        play_id: uuid,
        ledger_playbook: book.id,
        ledger_key: docKey,
        key: [...key],
        record: this.client.ui("records", recordId),
        record_api: this.client.api(`records/${recordId}`),
        ledger: this.client.ui("playbooks", book.id),
      };
      const cacheKey = `${pb}\n${linkKey}`;
      let id = this.linkIds.get(cacheKey);
      if (id !== undefined) {
        const res = await this.client.request("PATCH", `records/${id}`, { body: { value: linkValue, type: TYPE_LINK } });
        if (res.status === 200) return;
        id = undefined;
      }
      const res = await this.client.request("POST", "records", {
        body: { playbook: pb, key: linkKey, type: TYPE_LINK, value: linkValue },
      });
      if (res.status === 201 && isObj(res.body) && typeof res.body.id === "number") {
        this.linkIds.set(cacheKey, res.body.id);
        return;
      }
      const row = await findRow(this.client, pb, linkKey);
      if (!row) throw this.client.statusError("POST", "records", res);
      const upd = await this.client.request("PATCH", `records/${row.id}`, { body: { value: linkValue, type: TYPE_LINK } });
      if (upd.status !== 200) throw this.client.statusError("PATCH", `records/${row.id}`, upd);
      this.linkIds.set(cacheKey, row.id);
    } catch (err) {
      this.warn(`ara store ${this.client.display}: could not link ${link.title} to the Ara playbook of play ${uuid}: ${(err as Error).message}`);
    }
  }
}
