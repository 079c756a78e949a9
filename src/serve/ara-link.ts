/**
 * For an Ara store: the page of Ara's UI that shows the run (playbook) holding a job's play.
 * Ara's API finds the play by the uuid the record keeps (`play_id`); the credentials are the
 * store's own (ARA_API_USERNAME / ARA_API_PASSWORD). Best effort: no link when Ara does not
 * know the play (a run without Ara's callback) or cannot be asked.
 */
const cache = new Map<string, Promise<string | undefined>>();

/** ara+http(s)://[USER:PASS@]HOST:PORT[/PATH][?ledger=...] -> the server's http(s) base URL and credentials. */
export function araBase(storeUrl: string): { base: string; auth: string | undefined } | undefined {
  const m = /^ara\+(https?:\/\/.*)$/i.exec(storeUrl.trim());
  if (!m) return undefined;
  let u: URL;
  try {
    u = new URL(m[1]!);
  } catch {
    return undefined;
  }
  const user = u.username ? decodeURIComponent(u.username) : process.env.ARA_API_USERNAME;
  const pass = u.password ? decodeURIComponent(u.password) : process.env.ARA_API_PASSWORD;
  u.username = "";
  u.password = "";
  u.search = "";
  u.hash = "";
  const base = u.toString().replace(/\/+$/, "");
  return { base, auth: user ? `Basic ${Buffer.from(`${user}:${pass ?? ""}`).toString("base64")}` : undefined };
}

export function araPlayLink(storeUrl: string, playId: string): Promise<string | undefined> {
  const key = `${storeUrl}\n${playId}`;
  let p = cache.get(key);
  if (!p) {
    p = lookup(storeUrl, playId);
    cache.set(key, p);
    // A failure is not remembered: Ara may answer next time.
    void p.then((v) => v === undefined && cache.delete(key));
  }
  return p;
}

async function lookup(storeUrl: string, playId: string): Promise<string | undefined> {
  const b = araBase(storeUrl);
  if (!b) return undefined;
  try {
    const res = await fetch(`${b.base}/api/v1/plays?uuid=${encodeURIComponent(playId)}&limit=1`, {
      headers: { accept: "application/json", ...(b.auth ? { authorization: b.auth } : {}) },
      signal: AbortSignal.timeout(5000),
    });
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as { results?: { playbook?: number | { id?: number } }[] };
    const pb = body.results?.[0]?.playbook;
    const id = typeof pb === "number" ? pb : pb?.id;
    return typeof id === "number" ? `${b.base}/playbooks/${id}.html` : undefined;
  } catch {
    return undefined;
  }
}
