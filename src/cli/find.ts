/** Finding one job for show, history and delete: by name (and host), or by jid. */
import type { Head, Identity } from "../engine/ledger.js";
import type { JobRecord } from "../engine/record.js";
import { type OpenedStore, type Selection, notFound, reportUnreadable, select, selection } from "./context.js";
import { usageError } from "./errors.js";

/** Every record of every namespace: the base of a find, which then names its namespace. */
const NO_SELECTION: Selection = selection({ "all-namespaces": true }, "find");

function where(s: OpenedStore, namespace: string): string {
  return `in namespace ${namespace} of ${s.url}${s.missing ? " (the store directory does not exist)" : ""}`;
}

/**
 * The identity for NAME: --host when given, else the one host that has a job of that
 * name. Several hosts are a usage error that lists them.
 */
export async function resolveIdentity(
  s: OpenedStore,
  namespace: string,
  name: string,
  host: string | undefined,
  command: string,
): Promise<Identity> {
  if (host !== undefined) return { namespace, host, name };
  if (s.missing) throw notFound(`no job "${name}" ${where(s, namespace)}`);
  const { records, errors } = await select(s, { ...NO_SELECTION, namespace, name });
  const hosts = [...new Set(records.map((r) => r.host))].sort();
  if (hosts.length === 1) return { namespace, host: hosts[0]!, name };
  reportUnreadable(errors);
  if (hosts.length === 0) throw notFound(`no job "${name}" ${where(s, namespace)}`);
  const shown = hosts.slice(0, 10).join(", ") + (hosts.length > 10 ? `, ... (${hosts.length - 10} more)` : "");
  throw usageError(`job "${name}" exists on ${hosts.length} hosts (${shown}); choose one with --host`, command);
}

/** The head of an identity, or a not-found error that says where it looked. */
export async function headOf(s: OpenedStore, id: Identity): Promise<Head> {
  const head = s.missing ? undefined : await s.ledger.head(id);
  if (!head) throw notFound(`no job "${id.name}" on ${id.host} ${where(s, id.namespace)}`);
  return head;
}

/** One attempt of an identity (the current one unless `attempt` is given). */
export async function attemptOf(s: OpenedStore, id: Identity, attempt: number | undefined): Promise<JobRecord> {
  const head = await headOf(s, id);
  if (attempt === undefined || attempt === head.record.attempt) return head.record;
  const { records, errors } = await s.ledger.history(id);
  const rec = records.find((r) => r.attempt === attempt);
  if (rec) return rec;
  reportUnreadable(errors);
  throw notFound(
    `job "${id.name}" on ${id.host} has no attempt ${attempt} (attempts kept: ${records.map((r) => r.attempt).join(", ") || "none"})`,
  );
}

/** A job by jid: on one host through the jid index, else by scanning every host. */
export async function byJid(s: OpenedStore, namespace: string, jid: string, host: string | undefined, command: string): Promise<JobRecord> {
  if (s.missing) throw notFound(`no job with jid ${jid} ${where(s, namespace)}`);
  if (host !== undefined) {
    const head = await s.ledger.byJid(namespace, host, jid);
    if (!head) throw notFound(`no job with jid ${jid} on ${host} ${where(s, namespace)}`);
    return head.record;
  }
  const { records, errors } = await select(s, { ...NO_SELECTION, namespace, history: true });
  // A head may also sit in history (archived just before a move that lost a race).
  const hits = [...new Map(records.filter((r) => r.jid === jid).map((r) => [r.id, r])).values()];
  if (hits.length === 1) return hits[0]!;
  reportUnreadable(errors);
  if (hits.length === 0) throw notFound(`no job with jid ${jid} ${where(s, namespace)}`);
  throw usageError(`jid ${jid} is used on ${hits.length} hosts (${hits.map((r) => r.host).join(", ")}); choose one with --host`, command);
}
