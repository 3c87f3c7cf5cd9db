/**
 * `GET /ui`: the operator dashboard. A static shell (HTML, one script, one stylesheet; no framework, no
 * CDN) that holds no data: it asks for the admin token once, keeps it in sessionStorage and reads
 * everything through the public API (resources, the broker `live` WebSockets, metrics, dead letters).
 * The shell itself is served without the token because a browser cannot send one on navigation.
 */
import { Hono } from "hono";
import { KINDS } from "../shared/resources/kinds.ts";
import { dashboardApp } from "./dashboard/app.js";
import { dashboardHistory } from "./dashboard/history.js";
import { page, STYLE } from "./dashboard/page.ts";

export const dashboard = new Hono<{ Bindings: Env }>();

const SECURITY = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

/**
 * The browser script: its functions' sources, called at once (type="module" runs it after the page is
 * parsed); the history section gets the helpers the main script returns.
 */
const SCRIPT = `(${dashboardHistory.toString()})((${dashboardApp.toString()})());\n`;

/** The kinds the page lists, from the same table the management API serves (RBAC's are kubectl's business). */
const kinds = KINDS.filter((k) => !k.body).map((k) => ({
  group: k.group,
  version: k.versions[0],
  kind: k.kind,
  plural: k.plural,
  source: k.source === true,
  addressable: k.addressable === true,
}));

dashboard.get("/ui", (c) => c.html(page(kinds), 200, SECURITY));
dashboard.get("/ui/app.js", (c) => c.body(SCRIPT, 200, { ...SECURITY, "content-type": "text/javascript; charset=utf-8" }));
dashboard.get("/ui/app.css", (c) => c.body(STYLE, 200, { ...SECURITY, "content-type": "text/css; charset=utf-8" }));
