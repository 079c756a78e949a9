/**
 * Just enough XML for S3's answers (ListObjectsV2 pages and <Error> documents): S3 sends
 * flat, predictable elements, so a full parser would only add weight to the bundle.
 */

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

export function xmlDecode(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith("#x")) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith("#")) return String.fromCodePoint(Number.parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? m;
  });
}

/** Text of every <tag>...</tag> (no nesting of the same tag in S3 answers). */
export function xmlAll(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, "g");
  for (let m = re.exec(xml); m; m = re.exec(xml)) out.push(m[1]!);
  return out;
}

export function xmlFirst(xml: string, tag: string): string | undefined {
  const all = xmlAll(xml, tag);
  return all.length ? xmlDecode(all[0]!) : undefined;
}

export interface ListPage {
  keys: string[];
  truncated: boolean;
  next: string | undefined;
}

/** Parses one ListObjectsV2 page (keys decoded from XML). */
export function parseListPage(xml: string): ListPage {
  const keys = xmlAll(xml, "Contents").map((c) => xmlFirst(c, "Key") ?? "");
  return {
    keys: keys.filter((k) => k !== ""),
    truncated: xmlFirst(xml, "IsTruncated") === "true",
    next: xmlFirst(xml, "NextContinuationToken"),
  };
}

/** Code and Message of an S3 <Error> document, when the body is one. */
export function parseError(body: string): { code?: string; message?: string; region?: string } {
  if (!body.includes("<Error")) return {};
  const out: { code?: string; message?: string; region?: string } = {};
  const code = xmlFirst(body, "Code");
  const message = xmlFirst(body, "Message");
  const region = xmlFirst(body, "Region");
  if (code) out.code = code;
  if (message) out.message = message;
  if (region) out.region = region;
  return out;
}
