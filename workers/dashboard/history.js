// @ts-check
/**
 * The dashboard's event history section (served inside /ui/app.js, after the main script, which hands it
 * its helpers): search a broker's retained events, show one event's timeline, and replay what the search
 * found, with the dry-run count shown before anything is sent. Type-checked like app.js.
 */
/** @param {any} app what dashboardApp returns: its $, h, api and collectionPath */
export function dashboardHistory(app) {
  const { $, h, api, collectionPath } = app;
  /** A form field of the history section (workers/dashboard/page.ts). */
  const field = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id));

  const PAGE = 50;
  const historyPath = (key) => {
    const [ns, name] = key.split("/");
    return `/apis/edge-eventing.dev/v1alpha1/namespaces/${encodeURIComponent(ns)}/brokers/${encodeURIComponent(name)}/events`;
  };
  /** @type {{ key: string, query: URLSearchParams, next: string | null, replay: any }} */
  const search = { key: "", query: new URLSearchParams(), next: null, replay: null };

  async function loadBrokers() {
    const select = field("h-broker");
    const chosen = select.value;
    let items = [];
    try {
      items = (await api("GET", collectionPath("eventing.knative.dev/v1", "brokers"))).items;
    } catch {
      return;
    }
    select.replaceChildren(
      ...items.map((b) => {
        const key = `${b.metadata.namespace}/${b.metadata.name}`;
        return h("option", { value: key, selected: key === chosen }, key);
      }),
    );
  }

  /** The form as history API query fields (empty ones left out); since is an age counted back from now. */
  function formQuery() {
    const q = new URLSearchParams();
    for (const f of ["id", "source", "type", "subject", "trigger", "state"]) {
      const v = field(`h-${f}`).value.trim();
      if (v) q.set(f, v);
    }
    const age = field("h-since").value;
    if (age) q.set("since", new Date(Date.now() - Number(age) * 1000).toISOString());
    q.set("limit", String(PAGE));
    return q;
  }

  async function runSearch(more) {
    const status = $("history-status");
    if (!more) {
      search.key = field("h-broker").value;
      search.query = formQuery();
      search.next = null;
      $("history").replaceChildren();
      $("timeline").replaceChildren();
      resetReplay();
    }
    if (!search.key) {
      status.textContent = "No broker to search.";
      return;
    }
    const q = new URLSearchParams(search.query);
    if (more && search.next) q.set("continue", search.next);
    let list;
    try {
      list = await api("GET", `${historyPath(search.key)}?${q}`);
    } catch (err) {
      status.textContent = `Search failed: ${err.message}`;
      return;
    }
    search.next = list.metadata.continue || null;
    let table = $("history").querySelector("tbody");
    if (!table) {
      const t = h(
        "table",
        { id: "history-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Received", "ID", "Source", "Type", "Deliveries"].map((c) => h("th", {}, c)),
          ),
        ),
        h("tbody", {}),
      );
      $("history").append(t);
      table = t.querySelector("tbody");
    }
    for (const item of list.items) {
      table.append(
        h(
          "tr",
          { "data-event-id": item.event.id, class: "clickable", onclick: () => showTimeline(item) },
          h("td", {}, new Date(item.receivedAt).toLocaleString()),
          h("td", {}, h("code", {}, item.event.id)),
          h("td", {}, item.event.source),
          h("td", {}, item.event.type),
          h(
            "td",
            {},
            item.deliveries.length
              ? item.deliveries.map((d) => h("span", { class: `state-${d.state}` }, `${d.trigger} ${d.state}  `))
              : h("span", { class: "muted" }, "no trigger matched"),
          ),
        ),
      );
    }
    const shown = table.children.length;
    status.textContent = `${shown} event${shown === 1 ? "" : "s"}${search.next ? " (more are older)" : ""} in ${search.key}.`;
    $("history-more").hidden = !search.next;
    $("replay-check").hidden = shown === 0;
  }

  /** Received, then per trigger its state and every attempt (dead-letter sink and replay attempts marked). */
  function showTimeline(item) {
    const steps = [h("li", {}, `${new Date(item.receivedAt).toLocaleString()}  received`)];
    for (const d of item.deliveries) {
      steps.push(
        h(
          "li",
          { "data-trigger": d.trigger },
          `trigger ${d.trigger}: `,
          h("span", { class: `state-${d.state}` }, d.state),
          h(
            "ol",
            {},
            d.attempts.map((a) =>
              h(
                "li",
                { "data-attempt": "" },
                new Date(a.at).toLocaleString() +
                  "  " +
                  (a.status === null ? "no response" : `status ${a.status}`) +
                  "  " +
                  a.durationMs +
                  " ms" +
                  (a.deadLetterSink ? "  to the dead-letter sink" : "") +
                  (a.replay ? `  replay ${a.replay}` : "") +
                  (a.error ? `  ${a.error}` : ""),
              ),
            ),
          ),
        ),
      );
    }
    if (item.deliveries.length === 0) steps.push(h("li", { class: "muted" }, "no trigger matched"));
    $("timeline").replaceChildren(
      h("h3", {}, `Event ${item.event.id}`),
      h("ol", { class: "timeline" }, steps),
      h("pre", {}, JSON.stringify(item.event, null, 2)),
    );
  }

  function resetReplay() {
    search.replay = null;
    $("replay-status").textContent = "";
    $("replay-go").hidden = true;
  }

  /** A Replay of what the search shows: its time range, trigger and state; the other fields as exact filters. */
  function replayManifest() {
    const q = search.query;
    const exact = {};
    for (const f of ["id", "source", "type", "subject"]) if (q.get(f)) exact[f] = q.get(f);
    const state = q.get("state");
    const spec = { broker: search.key.split("/")[1], from: q.get("since") || "1970-01-01T00:00:00Z" };
    if (q.get("trigger")) spec.triggers = [q.get("trigger")];
    if (state === "delivered" || state === "deadlettered" || state === "failed") spec.state = state;
    if (Object.keys(exact).length) spec.filters = [{ exact }];
    return { apiVersion: "edge-eventing.dev/v1alpha1", kind: "Replay", metadata: { name: `replay-${Date.now().toString(36)}` }, spec };
  }

  async function dryRun() {
    const manifest = replayManifest();
    const ns = search.key.split("/")[0];
    try {
      const r = await api("POST", `/apis/edge-eventing.dev/v1alpha1/namespaces/${encodeURIComponent(ns)}/replays?dryRun=All`, manifest);
      search.replay = manifest;
      $("replay-status").textContent = `${r.status.matched} deliver${r.status.matched === 1 ? "y" : "ies"} would be sent again (dry run: nothing sent yet).`;
      $("replay-go").hidden = r.status.matched === 0;
    } catch (err) {
      $("replay-status").textContent = `Replay refused: ${err.message}`;
    }
  }

  async function startReplay() {
    const manifest = search.replay;
    if (!manifest) return;
    const ns = search.key.split("/")[0];
    $("replay-go").hidden = true;
    try {
      await api("POST", `/apis/edge-eventing.dev/v1alpha1/namespaces/${encodeURIComponent(ns)}/replays`, manifest);
      $("replay-status").textContent = `Replay ${manifest.metadata.name} started; its progress shows under Resources.`;
    } catch (err) {
      $("replay-status").textContent = `Replay refused: ${err.message}`;
    }
  }

  $("history-form").addEventListener("submit", (e) => {
    e.preventDefault();
    runSearch(false);
  });
  $("history-more").addEventListener("click", () => runSearch(true));
  $("replay-check").addEventListener("click", dryRun);
  $("replay-go").addEventListener("click", startReplay);
  field("h-broker").addEventListener("focus", loadBrokers);
  $("refresh").addEventListener("click", loadBrokers);
  $("login").addEventListener("submit", () => setTimeout(loadBrokers, 0));
  loadBrokers();
}
