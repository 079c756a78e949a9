/**
 * The page's three assets, served from memory: no CDN, nothing fetched at run time. The script
 * is src/serve/page/main.ts, bundled for the browser by scripts/build.mjs and put here as a
 * string (esbuild's `define`); from the sources (tsx) it is empty.
 */
declare const __DASHBOARD_JS__: string | undefined;

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ansible-jobs dashboard</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header class="top">
  <h1><a href="#/">ansible-jobs</a></h1>
  <span class="store" id="store" title="the store"></span>
  <span class="spacer"></span>
  <span class="updated" id="updated"></span>
  <span class="live off" id="live">○ connecting</span>
</header>
<div class="problems" id="problems" role="alert" hidden></div>
<main id="main"><p class="note">Loading the store...</p></main>
</body>
</html>
`;

const CSS = `
:root { --bg:#f4f5f7; --panel:#fff; --ink:#1d2430; --muted:#667085; --line:#d9dde3;
  --starting:#7c8db5; --running:#2f6fdf; --unreachable:#c98a00; --succeeded:#2e8b57; --failed:#c62828;
  --timed_out:#d2582a; --lost:#7b1fa2; --cancelled:#6b7280; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--ink); background:var(--bg); }
a { color:#1f5fbf; }
.top { display:flex; align-items:center; gap:14px; padding:8px 18px; background:#1d2430; color:#e8ebf0; }
.top h1 { font-size:17px; margin:0; } .top h1 a { color:#fff; text-decoration:none; }
.store { font-family:ui-monospace, Menlo, Consolas, monospace; font-size:12px; color:#aab3c2; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; max-width:50vw; }
.spacer { flex:1; } .updated { font-size:12px; color:#aab3c2; }
.live { font-size:12px; padding:2px 8px; border-radius:10px; background:#39404d; }
.live.on { color:#7ee2a0; } .live.bad { color:#ffb4a8; background:#5a2620; } .live.off { color:#c9ced6; }
main { padding:14px 18px 40px; }
.problems { margin:10px 18px 0; padding:10px 14px; border:1px solid #e0a39b; background:#fff1ef; color:#6b1c12; border-radius:6px; }
.problems ul { margin:6px 0 0; padding-left:20px; font-family:ui-monospace, Menlo, Consolas, monospace; font-size:12px; }
.counts { display:flex; flex-wrap:wrap; gap:6px; margin-bottom:10px; }
.count { border:1px solid var(--line); background:var(--panel); border-radius:6px; padding:5px 10px; cursor:pointer; font:inherit; color:var(--ink); border-left-width:5px; }
.count .n { font-weight:700; font-variant-numeric:tabular-nums; }
.count.zero { color:var(--muted); } .count.chosen { outline:2px solid #1f5fbf; background:#eaf1fd; }
.count.group { border-left-color:#1d2430; }
.filters { display:flex; flex-wrap:wrap; gap:10px 14px; align-items:end; margin-bottom:12px; }
.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); gap:2px; }
.filters label.check { flex-direction:row; align-items:center; gap:6px; padding-bottom:6px; }
.filters input[type=search], .filters select { font:inherit; padding:4px 6px; border:1px solid var(--line); border-radius:4px; min-width:130px; background:#fff; }
.filters button, .pager button { font:inherit; padding:4px 10px; border:1px solid var(--line); border-radius:4px; background:#fff; cursor:pointer; }
.panel { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:10px 14px; margin-bottom:14px; }
.panel h2, .panel h3 { margin:0 0 8px; font-size:15px; } .sub { color:var(--muted); font-weight:400; font-size:12px; }
.timeline-box { overflow-x:auto; }
svg.timeline { display:block; font-size:11px; }
.stripe { fill:#f7f8fa; } .grid { stroke:#e4e7ec; } .now { stroke:#1d2430; stroke-dasharray:2 2; }
.tick { fill:var(--muted); font-size:10px; } .host-label { fill:var(--ink); font-family:ui-monospace, Menlo, Consolas, monospace; font-size:11px; }
.bar-label { fill:#fff; font-size:10px; font-weight:600; pointer-events:none; paint-order:stroke; stroke:rgba(0,0,0,.35); stroke-width:2px; }
.updated-mark { stroke:#111; stroke-width:2; }
.since-update { stroke:#8a94a6; stroke-width:2; stroke-dasharray:4 3; } .since-update.stale { stroke:#c62828; }
.stale-label { fill:#c62828; font-size:10px; font-weight:600; paint-order:stroke; stroke:#fff; stroke-width:3px; }
.pat-bg { fill:transparent; } .pat-fg { stroke:rgba(255,255,255,.6); stroke-width:1.5; } .pat-dot { fill:rgba(255,255,255,.7); }
.bar:hover rect { opacity:.8; }
.fill-starting { fill:var(--starting); } .fill-running { fill:var(--running); } .fill-unreachable { fill:var(--unreachable); }
.fill-succeeded { fill:var(--succeeded); } .fill-failed { fill:var(--failed); } .fill-timed_out { fill:var(--timed_out); }
.fill-lost { fill:var(--lost); } .fill-cancelled { fill:var(--cancelled); }
.legend { display:flex; flex-wrap:wrap; gap:4px 14px; font-size:12px; color:var(--muted); margin-top:6px; align-items:center; }
.legend-item { display:inline-flex; align-items:center; gap:4px; } .swatch { vertical-align:middle; }
.mark-sample { font-weight:900; color:#111; } .dash-sample { color:#c62828; letter-spacing:1px; }
svg.defs { position:absolute; }
.table-wrap { overflow-x:auto; }
table.jobs { border-collapse:collapse; width:100%; font-size:13px; }
table.jobs th { text-align:left; border-bottom:2px solid var(--line); padding:4px 8px; white-space:nowrap; }
table.jobs td { border-bottom:1px solid #eceef2; padding:4px 8px; vertical-align:top; }
table.jobs tr.current td { background:#f2f6fd; }
th button.sort { border:0; background:none; font:inherit; font-weight:600; cursor:pointer; padding:0; color:var(--ink); }
th button.sort.on { color:#1f5fbf; }
td.num { text-align:right; font-variant-numeric:tabular-nums; } td.ns { color:var(--muted); }
td.name { font-weight:600; word-break:break-all; } td.path { font-family:ui-monospace, Menlo, Consolas, monospace; font-size:12px; }
.badge { display:inline-block; padding:1px 7px; border-radius:10px; color:#fff; font-size:12px; font-weight:600; white-space:nowrap; }
.badge.stale { outline:2px dashed #c62828; outline-offset:1px; }
.badge.st-starting { background:var(--starting); } .badge.st-running { background:var(--running); } .badge.st-unreachable { background:var(--unreachable); }
.badge.st-succeeded { background:var(--succeeded); } .badge.st-failed { background:var(--failed); } .badge.st-timed_out { background:var(--timed_out); }
.badge.st-lost { background:var(--lost); } .badge.st-cancelled { background:var(--cancelled); }
.count.st-starting { border-left-color:var(--starting); } .count.st-running { border-left-color:var(--running); } .count.st-unreachable { border-left-color:var(--unreachable); }
.count.st-succeeded { border-left-color:var(--succeeded); } .count.st-failed { border-left-color:var(--failed); } .count.st-timed_out { border-left-color:var(--timed_out); }
.count.st-lost { border-left-color:var(--lost); } .count.st-cancelled { border-left-color:var(--cancelled); }
.stale-text { color:#c62828; font-weight:600; }
.pager { display:flex; gap:8px; align-items:center; margin-top:8px; color:var(--muted); }
.empty, .note { color:var(--muted); }
.job-title { font-size:20px; margin:4px 0 12px; word-break:break-all; }
.grid { display:grid; grid-template-columns:repeat(auto-fit, minmax(340px, 1fr)); gap:0 14px; }
dl { display:grid; grid-template-columns:max-content 1fr; gap:3px 12px; margin:0; font-size:13px; }
dt { color:var(--muted); } dd { margin:0; word-break:break-all; font-family:ui-monospace, Menlo, Consolas, monospace; font-size:12px; }
pre.out { background:#0f1420; color:#dfe6f1; padding:10px; border-radius:6px; overflow:auto; max-height:360px; margin:0; font-size:12px; white-space:pre-wrap; word-break:break-all; }
.error-box { border-color:#e0a39b; background:#fff1ef; color:#6b1c12; }
`;

export const ASSETS = {
  html: HTML,
  css: CSS,
  js: typeof __DASHBOARD_JS__ === "string" ? __DASHBOARD_JS__ : "document.body.textContent = 'ansible-jobs serve: the page script is not built (run node scripts/build.mjs)';",
};
