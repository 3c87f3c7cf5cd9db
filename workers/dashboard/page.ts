/** The dashboard's markup and stylesheet. The kinds table travels as inert JSON the script reads. */

export interface PageKind {
  group: string;
  version: string;
  kind: string;
  plural: string;
  source: boolean;
}

/** JSON safe inside a <script> element: no "</script>" or "<!--" can close or confuse it. */
const inertJson = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c");

export const page = (kinds: PageKind[]) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edge-eventing</title>
<link rel="stylesheet" href="/ui/app.css">
<script type="application/json" id="kinds">${inertJson(kinds)}</script>
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<header><h1>edge-eventing</h1><span id="whoami" class="muted"></span><label>Namespace <input id="namespace" placeholder="every namespace" size="14"></label><span id="conn" class="muted"></span><button id="signout" hidden>Forget token</button></header>
<form id="login" hidden>
  <label>Token (the admin token, or an OIDC token for the API's audience) <input id="token" type="password" autocomplete="off" required></label>
  <button type="submit">Open dashboard</button>
  <p id="login-error" class="error" role="alert"></p>
</form>
<main id="app" hidden>
  <section><h2>Resources <button id="refresh" type="button">Refresh</button></h2><p id="forbidden" class="muted"></p><div id="resources"></div></section>
  <section><h2>Triggers</h2><p class="muted">Events per second over the last minute; latency is the mean since the previous sample.</p><div id="triggers" class="cards"></div></section>
  <section><h2>Live tail</h2><ol id="tail" class="tail"></ol></section>
  <section><h2>Dead letters</h2><p id="dead-status" role="status"></p><div id="dead"></div></section>
  <section><h2>Event history</h2>
    <form id="history-form" class="filters">
      <label>Broker <select id="h-broker"></select></label>
      <label>Type <input id="h-type"></label>
      <label>Source <input id="h-source"></label>
      <label>Subject <input id="h-subject"></label>
      <label>ID <input id="h-id"></label>
      <label>Trigger <input id="h-trigger"></label>
      <label>State <select id="h-state"><option value="">any</option><option>pending</option><option>retrying</option><option>delivered</option><option>deadlettered</option><option>failed</option><option>dropped</option></select></label>
      <label>Received <select id="h-since"><option value="900">last 15 min</option><option value="3600">last hour</option><option value="86400" selected>last 24 h</option><option value="">any time</option></select></label>
      <button type="submit">Search</button>
    </form>
    <p id="history-status" role="status"></p>
    <div id="history"></div>
    <button id="history-more" type="button" hidden>Older events</button>
    <p><button id="replay-check" type="button" hidden>Replay these events…</button> <button id="replay-go" type="button" hidden>Start replay</button></p>
    <p id="replay-status" role="status"></p>
    <div id="timeline"></div>
  </section>
  <section><h2>Audit trail</h2>
    <form id="audit-form" class="filters">
      <label>User <input id="a-user"></label>
      <label>When <select id="a-since"><option value="3600">last hour</option><option value="86400" selected>last 24 h</option><option value="">any time</option></select></label>
      <button type="submit">Search</button>
    </form>
    <p id="audit-status" role="status"></p>
    <div id="audit"></div>
  </section>
</main>
</body>
</html>
`;

export const STYLE = `
:root { color-scheme: light dark; --accepted: #3b82f6; --delivered: #16a34a; --retried: #f59e0b; --dead: #dc2626; --latency: #8b5cf6; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 16px 32px; }
header { display: flex; align-items: center; gap: 16px; border-bottom: 1px solid #8884; }
h1 { font-size: 20px; margin: 12px 0; flex: 1; }
h2 { font-size: 16px; margin: 20px 0 8px; display: flex; gap: 12px; align-items: center; }
h3 { font-size: 14px; margin: 12px 0 4px; }
table { border-collapse: collapse; width: 100%; margin-bottom: 8px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #8883; vertical-align: top; }
th { font-weight: 600; }
.muted { color: #888; }
.error { color: var(--dead); }
.ready-True { color: var(--delivered); font-weight: 600; }
.ready-False { color: var(--dead); font-weight: 600; }
.ready-Unknown { color: var(--retried); font-weight: 600; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
.card { border: 1px solid #8885; border-radius: 6px; padding: 8px 12px; }
.card svg { width: 100%; height: 90px; display: block; }
.flow { font-size: 12px; margin: 2px 0 4px; }
.flow[data-paused="true"] span { color: #c60; }
.legend { display: flex; flex-wrap: wrap; gap: 10px; font-size: 12px; }
.legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 4px; background: currentColor; }
polyline { fill: none; stroke-width: 1.5; vector-effect: non-scaling-stroke; }
.s-accepted { color: var(--accepted); stroke: var(--accepted); }
.s-delivered { color: var(--delivered); stroke: var(--delivered); }
.s-retried { color: var(--retried); stroke: var(--retried); }
.s-deadLettered { color: var(--dead); stroke: var(--dead); }
.s-latency { color: var(--latency); stroke: var(--latency); stroke-dasharray: 3 2; }
.tail { font: 12px/1.5 ui-monospace, monospace; max-height: 320px; overflow: auto; padding-left: 0; list-style: none; }
.tail li { border-bottom: 1px solid #8882; }
.verdict-delivered { color: var(--delivered); }
.verdict-retry { color: var(--retried); }
.verdict-failed, .verdict-deadlettered, .verdict-to-dead-letter-sink { color: var(--dead); }
code { font: 12px ui-monospace, monospace; word-break: break-all; }
.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: end; }
.filters label { display: flex; flex-direction: column; font-size: 12px; }
.clickable { cursor: pointer; }
.state-delivered { color: var(--delivered); }
.state-pending, .state-retrying { color: var(--retried); }
.state-failed, .state-deadlettered, .state-dropped { color: var(--dead); }
.timeline { font: 12px/1.6 ui-monospace, monospace; }
pre { font: 12px ui-monospace, monospace; overflow: auto; }
`;
