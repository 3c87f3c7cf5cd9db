// @ts-check
/**
 * The dashboard's browser script, served as /ui/app.js: the Worker sends this function's source
 * (workers/dashboard.ts), so there is no bundler step and no string to keep in sync. Type-checked with the
 * DOM's types by tsconfig.dashboard.json (part of `npm test`). It runs in the browser only: everything it
 * uses is declared inside it.
 */
export function dashboardApp() {
  // The dashboard: resources with Ready conditions, per-trigger live charts, a live tail and dead letters.
  // Data comes only from the public API; updates are pushed over each broker's live WebSocket.
  const KINDS = JSON.parse(/** @type {string} */ (document.getElementById("kinds")?.textContent));
  const TOKEN_KEY = "edge-eventing.token";
  /** The namespace the page shows ("" for every namespace), kept with the token. */
  const NS_KEY = "edge-eventing.namespace";
  /** Audit rows listed at once. */
  const AUDIT_LIMIT = 100;
  /** Seconds of history a chart shows. */
  const WINDOW_S = 60;
  /** Lines the live tail keeps. */
  const TAIL_MAX = 200;
  /** Brokers watched at once (one WebSocket each). */
  const MAX_WATCHED = 20;
  /** Dead letters listed per broker. */
  const DEAD_LIMIT = 50;
  /** Metrics are fetched after deliveries, at most this often per broker (latency comes from them). */
  const METRICS_EVERY_MS = 2000;
  const RECONNECT_MAX_MS = 30000;
  const SERIES = ["accepted", "delivered", "retried", "deadLettered"];
  const SVG = "http://www.w3.org/2000/svg";

  /** The page's elements are all in its markup (workers/dashboard/page.ts). */
  const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const state = { brokers: new Map(), triggers: new Map(), sockets: new Map() };

  /** An element with attributes and children; text goes through text nodes, never through HTML. */
  function h(tag, attrs, ...children) {
    const el = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, String(v));
    }
    for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }
  function namespace() {
    return sessionStorage.getItem(NS_KEY) || "";
  }
  /** A collection path of `group/version` in the chosen namespace, or in every namespace. */
  const collectionPath = (groupVersion, plural) => `/apis/${groupVersion}/${namespace() ? `namespaces/${encodeURIComponent(namespace())}/` : ""}${plural}`;

  /** @param {string} method @param {string} path @param {unknown} [payload] @param {string} [contentType] */
  async function api(method, path, payload = undefined, contentType = "application/json") {
    /** @type {Record<string, string>} */
    const headers = { authorization: `Bearer ${token()}`, accept: "application/json" };
    if (payload !== undefined) headers["content-type"] = contentType;
    const res = await fetch(path, { method, headers, body: payload === undefined ? undefined : JSON.stringify(payload) });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) {
      signOut("The token was refused.");
      throw new Error("unauthorized");
    }
    // The status travels with the error: a 403 means this user may not, which the page shows by leaving it out.
    if (!res.ok)
      throw Object.assign(new Error((body.reason ? `${body.reason}: ` : "") + (body.message || body.error || `HTTP ${res.status}`)), { status: res.status });
    return body;
  }

  const brokerPath = (ns, name) => `/apis/eventing.knative.dev/v1/namespaces/${encodeURIComponent(ns)}/brokers/${encodeURIComponent(name)}`;

  /** Kubernetes' WebSocket bearer subprotocol: the token in unpadded base64url. */
  function bearerProtocol(t) {
    const bytes = new TextEncoder().encode(t);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return `base64url.bearer.authorization.k8s.io.${btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
  }

  // ---- sign-in --------------------------------------------------------------------------------------

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    for (const s of state.sockets.values()) s.close(1000);
    state.sockets.clear();
    $("app").hidden = true;
    $("signout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("conn").textContent = "";
  }

  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = /** @type {HTMLInputElement} */ ($("token"));
    sessionStorage.setItem(TOKEN_KEY, input.value);
    input.value = "";
    start();
  });
  $("signout").addEventListener("click", () => signOut(""));
  $("refresh").addEventListener("click", () => loadResources());
  $("namespace").addEventListener("change", () => {
    sessionStorage.setItem(NS_KEY, /** @type {HTMLInputElement} */ ($("namespace")).value.trim());
    loadResources();
    loadAudit();
  });
  $("audit-form").addEventListener("submit", (e) => {
    e.preventDefault();
    loadAudit();
  });

  async function start() {
    if (!token()) return signOut("");
    $("login").hidden = true;
    $("app").hidden = false;
    $("signout").hidden = false;
    /** @type {HTMLInputElement} */ ($("namespace")).value = namespace();
    whoami();
    await loadResources();
    loadAudit();
  }

  /** Who the token is (kubectl auth whoami's SelfSubjectReview). */
  async function whoami() {
    try {
      const r = await api("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
      $("whoami").textContent = `signed in as ${r.status.userInfo.username}`;
    } catch {
      $("whoami").textContent = "";
    }
  }

  // ---- resources ------------------------------------------------------------------------------------

  async function loadResources() {
    const lists = await Promise.all(
      KINDS.map(async (k) => {
        try {
          return { k, items: (await api("GET", collectionPath(`${k.group}/${k.version}`, k.plural))).items };
        } catch (err) {
          return { k, items: [], error: err.status === 403 ? undefined : err.message, forbidden: err.status === 403 };
        }
      }),
    );
    if (!token()) return;
    const forbidden = lists.filter((l) => l.forbidden).map((l) => l.k.plural);
    $("forbidden").textContent =
      forbidden.length === 0
        ? ""
        : `Not shown, as this token may not list them ${namespace() ? `in ${namespace()}` : "in every namespace (pick a namespace)"}: ${forbidden.join(", ")}`;
    /** @type {[string, (k: any) => boolean][]} */
    const groups = [
      ["Brokers", (k) => k.kind === "Broker"],
      ["Triggers", (k) => k.kind === "Trigger"],
      ["Sources", (k) => k.source],
      ["Transforms and flows", (k) => k.addressable],
      ["Request-reply", (k) => k.kind === "RequestReply"],
      ["Event policies", (k) => k.kind === "EventPolicy"],
      ["Scaled objects", (k) => k.kind === "ScaledObject"],
      ["Job sinks and clusters", (k) => k.kind === "JobSink" || k.kind === "KubernetesCluster"],
    ];
    const box = $("resources");
    box.replaceChildren();
    for (const [title, pick] of groups) {
      const rows = lists.filter((l) => pick(l.k)).flatMap((l) => l.items.map((r) => ({ kind: l.k.kind, r })));
      const errors = lists.filter((l) => pick(l.k) && l.error).map((l) => `${l.k.plural}: ${l.error}`);
      box.append(h("h3", {}, `${title} (${rows.length})`));
      for (const e of errors) box.append(h("p", { class: "error" }, e));
      if (rows.length === 0) {
        box.append(h("p", { class: "muted" }, "none"));
        continue;
      }
      box.append(
        h(
          "table",
          { "data-kind": title },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Kind", "Namespace", "Name", "Ready", "Reason", "Message"].map((c) => h("th", {}, c)),
            ),
          ),
          h(
            "tbody",
            {},
            rows.map(({ kind, r }) => {
              const ready = (r.status?.conditions || []).find((c) => c.type === "Ready") || { status: "Unknown" };
              const partitions = r.status?.partitions > 1 ? ` (${r.status.partitions} partitions)` : "";
              // A broker's applying EventPolicies: its ingress takes only the senders they allow.
              const policies = (r.status?.policies || []).map((p) => p.name);
              const guard = policies.length ? h("span", { class: "policies muted" }, ` policies: ${policies.join(", ")}`) : "";
              // A ScaledObject's target and its activator: ready replicas, what waits for them, what is in flight.
              const act = r.status?.activation;
              const scaled =
                kind === "ScaledObject" && r.status?.readyReplicas != null
                  ? h(
                      "span",
                      { class: "activation muted" },
                      ` ready ${r.status.readyReplicas}${act ? `, ${act.state}, held ${act.held}, in flight ${act.inFlight}${act.capacity === null ? "" : ` of ${act.capacity}`}` : ""}`,
                    )
                  : "";
              return h(
                "tr",
                { "data-name": r.metadata.name },
                h("td", {}, kind),
                h("td", {}, r.metadata.namespace || ""),
                h("td", {}, r.metadata.name + partitions, guard, scaled),
                h("td", { class: `ready-${ready.status}` }, ready.status),
                h("td", {}, ready.reason || ""),
                h("td", {}, ready.message || ""),
              );
            }),
          ),
        ),
      );
    }
    const brokers = (lists.find((l) => l.k.kind === "Broker") || { items: [] }).items;
    const triggers = (lists.find((l) => l.k.kind === "Trigger") || { items: [] }).items;
    syncTriggers(triggers);
    syncBrokers(brokers.slice(0, MAX_WATCHED));
  }

  // ---- live feed ------------------------------------------------------------------------------------

  function syncBrokers(brokers) {
    const wanted = new Set(brokers.map((b) => `${b.metadata.namespace}/${b.metadata.name}`));
    for (const [key, s] of state.sockets)
      if (!wanted.has(key)) {
        s.close(1000);
        state.sockets.delete(key);
        state.brokers.delete(key);
      }
    for (const key of wanted) {
      if (!state.brokers.has(key)) state.brokers.set(key, { key, dead: [], lastMetrics: 0, trailing: null, primed: false, latency: new Map() });
      if (!state.sockets.has(key)) watch(key, 0);
      loadDeadLetters(key);
    }
    renderDead();
  }

  function watch(key, attempt) {
    const [ns, name] = key.split("/");
    const url = `${location.origin.replace(/^http/, "ws")}${brokerPath(ns, name)}/live`;
    const ws = new WebSocket(url, [bearerProtocol(token())]);
    state.sockets.set(key, ws);
    ws.addEventListener("open", () => {
      attempt = 0;
      showConnections();
      fetchMetrics(key, true);
    });
    ws.addEventListener("message", (m) => onLive(key, JSON.parse(m.data)));
    ws.addEventListener("close", () => {
      showConnections();
      if (state.sockets.get(key) !== ws || !token()) return;
      // Reconnect with capped exponential backoff: a restarted router is picked up again, without a storm.
      const delay = Math.min(RECONNECT_MAX_MS, 1000 * 2 ** attempt);
      setTimeout(() => {
        if (state.sockets.get(key) === ws && token()) watch(key, attempt + 1);
      }, delay);
    });
  }

  function showConnections() {
    const open = [...state.sockets.values()].filter((s) => s.readyState === WebSocket.OPEN).length;
    $("conn").textContent = `live: ${open}/${state.sockets.size} brokers`;
  }

  /** " #p" for what a partition of a partitioned broker sent or keeps (dead letters, live messages). */
  const partitionOf = (x) => (x.partition === undefined ? "" : ` #${x.partition}`);

  /**
   * One message of a broker's live feed, typed by the router's own definition of it.
   * @param {string} key
   * @param {import("../../shared/resources/broker-api.ts").LiveMessage} msg
   */
  function onLive(key, msg) {
    const ns = key.split("/")[0];
    if (msg.kind === "event") {
      for (const t of msg.matched) bump(`${ns}/${t}`, "accepted");
      addTail(
        h(
          "li",
          {},
          `${new Date(msg.at).toLocaleTimeString()}  ${key}${partitionOf(msg)}  event ${msg.type}  id=${msg.id}  source=${msg.source}  -> `,
          msg.matched.length ? msg.matched.join(", ") : h("span", { class: "muted" }, "no trigger matched"),
        ),
      );
      return;
    }
    /** @type {Partial<Record<typeof msg.verdict, string>>} */
    const seriesOf = { delivered: "delivered", retry: "retried", deadlettered: "deadLettered", failed: "deadLettered" };
    const series = seriesOf[msg.verdict];
    if (series) bump(`${ns}/${msg.trigger}`, series);
    addTail(
      h(
        "li",
        {},
        `${new Date(msg.at).toLocaleTimeString()}  ${key}${partitionOf(msg)}  delivery ${msg.trigger}  `,
        h("span", { class: `verdict-${msg.verdict}` }, msg.verdict),
        `  attempt ${msg.attempt}${msg.status === null ? "" : `  status ${msg.status}`}`,
      ),
    );
    fetchMetrics(key, false);
    if (msg.verdict === "failed") loadDeadLetters(key);
  }

  function addTail(li) {
    const list = $("tail");
    list.prepend(li);
    while (list.children.length > TAIL_MAX) list.lastChild?.remove();
  }

  // ---- per-trigger charts ---------------------------------------------------------------------------

  function syncTriggers(triggers) {
    const wanted = new Set(triggers.map((t) => `${t.metadata.namespace}/${t.metadata.name}`));
    for (const key of state.triggers.keys())
      if (!wanted.has(key)) {
        state.triggers.get(key).card.remove();
        state.triggers.delete(key);
      }
    for (const t of triggers) {
      const key = `${t.metadata.namespace}/${t.metadata.name}`;
      if (state.triggers.has(key)) {
        const card = state.triggers.get(key);
        const flow = flowLine(t);
        card.flow.replaceWith(flow);
        card.flow = flow;
        continue;
      }
      const buckets = Array.from({ length: WINDOW_S }, () => ({ accepted: 0, delivered: 0, retried: 0, deadLettered: 0 }));
      const totals = { accepted: 0, delivered: 0, retried: 0, deadLettered: 0 };
      const lines = Object.fromEntries(SERIES.map((s) => [s, h("svg:polyline", { class: `s-${s}`, "data-series": s })]));
      const latencyLine = h("svg:polyline", { class: "s-latency", "data-series": "latency" });
      const legend = Object.fromEntries(SERIES.map((s) => [s, h("span", { class: `s-${s}`, "data-series": s }, `${s} 0`)]));
      const latencyText = h("span", { class: "s-latency", "data-series": "latency" }, "latency -");
      const flow = flowLine(t);
      const card = h(
        "article",
        { class: "card", "data-trigger": key },
        h("h3", {}, key, h("span", { class: "muted" }, `  broker ${t.spec.broker}`)),
        flow,
        h(
          "svg:svg",
          { viewBox: `0 0 ${WINDOW_S} 100`, preserveAspectRatio: "none", role: "img", "aria-label": `events per second for ${key}` },
          Object.values(lines),
          latencyLine,
        ),
        h("div", { class: "legend" }, Object.values(legend), latencyText),
      );
      $("triggers").append(card);
      state.triggers.set(key, {
        key,
        broker: `${t.metadata.namespace}/${t.spec.broker}`,
        name: t.metadata.name,
        buckets,
        totals,
        lines,
        latencyLine,
        legend,
        latencyText,
        latencies: [],
        card,
        flow,
      });
    }
    for (const t of state.triggers.values()) draw(t);
  }

  /** A trigger's flow control (API.md §8): its rate limit, whether it is paused, and a button to flip that. */
  function flowLine(t) {
    const a = t.metadata.annotations || {};
    const paused = a["edge-eventing.dev/paused"] === "true";
    const limit = a["edge-eventing.dev/rate-limit"];
    return h(
      "div",
      { class: "flow", "data-paused": String(paused) },
      h("span", { "data-limit": limit || "" }, (limit ? `rate limit ${limit}` : "no rate limit") + (paused ? ", paused: events queue, nothing is sent" : "")),
      " ",
      h("button", { type: "button", onclick: () => setPaused(t, !paused) }, paused ? "Resume" : "Pause"),
    );
  }

  /** Pause or resume with a merge patch of the annotation, as `edge-eventing pause|resume` does. */
  async function setPaused(t, paused) {
    const path = `/apis/eventing.knative.dev/v1/namespaces/${encodeURIComponent(t.metadata.namespace)}/triggers/${encodeURIComponent(t.metadata.name)}`;
    try {
      await api("PATCH", path, { metadata: { annotations: { "edge-eventing.dev/paused": paused ? "true" : null } } }, "application/merge-patch+json");
    } catch (err) {
      $("conn").textContent = `${paused ? "Pause" : "Resume"} of ${t.metadata.name} failed: ${err.message}`;
    }
    await loadResources();
  }

  function bump(key, series) {
    const t = state.triggers.get(key);
    if (!t) return;
    t.buckets[t.buckets.length - 1][series]++;
    t.totals[series]++;
    draw(t);
  }

  function draw(t) {
    const max = Math.max(1, ...t.buckets.map((b) => Math.max(b.accepted, b.delivered, b.retried, b.deadLettered)));
    for (const s of SERIES) {
      t.lines[s].setAttribute("points", t.buckets.map((b, i) => `${i},${(98 - (b[s] / max) * 94).toFixed(1)}`).join(" "));
      const now = t.buckets[t.buckets.length - 1][s];
      t.legend[s].textContent = `${s} ${t.totals[s]} (${now}/s)`;
      t.legend[s].dataset.total = t.totals[s];
    }
    const lat = t.latencies;
    const lmax = Math.max(1, ...lat.map((p) => p.ms));
    t.latencyLine.setAttribute(
      "points",
      lat.map((p) => `${(WINDOW_S - (Date.now() - p.at) / 1000).toFixed(1)},${(98 - (p.ms / lmax) * 94).toFixed(1)}`).join(" "),
    );
    t.latencyText.textContent = lat.length ? `latency ${lat[lat.length - 1].ms.toFixed(0)} ms` : "latency -";
  }

  // The clock moves every chart one second left; it draws locally and never calls the router.
  setInterval(() => {
    for (const t of state.triggers.values()) {
      t.buckets.shift();
      t.buckets.push({ accepted: 0, delivered: 0, retried: 0, deadLettered: 0 });
      t.latencies = t.latencies.filter((p) => Date.now() - p.at < WINDOW_S * 1000);
      draw(t);
    }
  }, 1000);

  /** Mean delivery latency per trigger since the previous sample, from the broker's histogram counters. */
  async function fetchMetrics(key, force) {
    const b = state.brokers.get(key);
    if (!b) return;
    const wait = b.lastMetrics + METRICS_EVERY_MS - Date.now();
    if (!force && wait > 0) {
      // Throttled: one trailing fetch picks up the deliveries of this burst.
      if (!b.trailing)
        b.trailing = setTimeout(() => {
          b.trailing = null;
          fetchMetrics(key, true);
        }, wait);
      return;
    }
    b.lastMetrics = Date.now();
    const [ns, name] = key.split("/");
    let m;
    try {
      m = await api("GET", `${brokerPath(ns, name)}/metrics`);
    } catch {
      return;
    }
    const sums = new Map();
    for (const c of m.counters) {
      if (!c.trigger) continue;
      const s = sums.get(c.trigger) || { ms: 0, n: 0 };
      if (c.name === "latency_sum_ms") s.ms += c.value;
      else if (c.name.startsWith("latency_le_")) s.n += c.value;
      sums.set(c.trigger, s);
    }
    for (const [trigger, s] of sums) {
      // Before the first sample there is no baseline; after it, a trigger not seen yet started from zero.
      const prev = b.latency.get(trigger) || (b.primed ? { ms: 0, n: 0 } : undefined);
      b.latency.set(trigger, s);
      const t = state.triggers.get(`${ns}/${trigger}`);
      if (!t || !prev || s.n <= prev.n) continue;
      t.latencies.push({ at: Date.now(), ms: (s.ms - prev.ms) / (s.n - prev.n) });
      draw(t);
    }
    b.primed = true;
  }

  // ---- dead letters ---------------------------------------------------------------------------------

  async function loadDeadLetters(key) {
    const b = state.brokers.get(key);
    if (!b) return;
    const [ns, name] = key.split("/");
    try {
      b.dead = (await api("GET", `${brokerPath(ns, name)}/deadletters?limit=${DEAD_LIMIT}`)).items;
    } catch (err) {
      b.error = err.message;
    }
    renderDead();
  }

  function renderDead() {
    const box = $("dead");
    box.replaceChildren();
    const rows = [...state.brokers.values()].flatMap((b) => b.dead.map((d) => ({ b, d })));
    if (rows.length === 0) {
      box.append(h("p", { class: "muted" }, "No dead letters."));
      return;
    }
    box.append(
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Broker", "Trigger", "When", "Event", "Reason", ""].map((c) => h("th", {}, c)),
          ),
        ),
        h(
          "tbody",
          {},
          rows.map(({ b, d }) =>
            h(
              "tr",
              { "data-dead": d.id },
              h("td", {}, b.key + partitionOf(d)),
              h("td", {}, d.trigger),
              h("td", {}, new Date(d.at).toLocaleString()),
              h("td", {}, h("code", {}, `${d.event.type} ${d.event.id}`)),
              h("td", {}, d.reason),
              h("td", {}, h("button", { type: "button", onclick: () => redeliver(b.key, d.id) }, "Redeliver")),
            ),
          ),
        ),
      ),
    );
  }

  async function redeliver(key, id) {
    const [ns, name] = key.split("/");
    try {
      await api("POST", `${brokerPath(ns, name)}/deadletters/${id}/redeliver`);
      $("dead-status").textContent = `Dead letter ${id} of ${key} queued for redelivery.`;
    } catch (err) {
      $("dead-status").textContent = `Redelivery of ${id} failed: ${err.message}`;
    }
    loadDeadLetters(key);
  }

  // ---- audit trail ----------------------------------------------------------------------------------

  async function loadAudit() {
    const q = new URLSearchParams({ limit: String(AUDIT_LIMIT) });
    const user = /** @type {HTMLInputElement} */ ($("a-user")).value.trim();
    const since = /** @type {HTMLSelectElement} */ ($("a-since")).value;
    if (user) q.set("user", user);
    if (since) q.set("since", new Date(Date.now() - Number(since) * 1000).toISOString());
    const box = $("audit");
    box.replaceChildren();
    let list;
    try {
      list = await api("GET", `${collectionPath("edge-eventing.dev/v1alpha1", "auditevents")}?${q}`);
    } catch (err) {
      $("audit-status").textContent =
        err.status === 403
          ? `This token may not read the audit trail ${namespace() ? `of ${namespace()}` : "of every namespace"}.`
          : `Audit trail: ${err.message}`;
      return;
    }
    $("audit-status").textContent = `${list.items.length} entries${list.metadata.continue ? ` (newest ${AUDIT_LIMIT})` : ""}`;
    box.append(
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["When", "User", "Verb", "Resource", "Namespace", "Name", "Code", "Count"].map((c) => h("th", {}, c)),
          ),
        ),
        h(
          "tbody",
          {},
          list.items.map((a) => {
            const o = a.objectRef || {};
            return h(
              "tr",
              { "data-audit": a.metadata.name },
              h("td", {}, new Date(a.requestReceivedTimestamp).toLocaleString()),
              h("td", {}, a.user.username),
              h("td", {}, a.verb),
              h("td", {}, o.resource ? o.resource + (o.subresource ? `/${o.subresource}` : "") : a.requestURI),
              h("td", {}, o.namespace || ""),
              h("td", {}, o.name || ""),
              h("td", { class: a.responseStatus.code >= 400 ? "error" : "" }, a.responseStatus.code),
              h("td", {}, a.count === undefined ? "" : a.count),
            );
          }),
        ),
      ),
    );
  }

  start();
  // What other parts of the page (workers/dashboard/history.js) build on.
  return { $, h, api, collectionPath };
}
