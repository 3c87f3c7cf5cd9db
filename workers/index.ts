/** The router Worker: HTTP routes and the cron watchdog. Durable Object classes are exported from here. */
import { Hono } from "hono";
import { audit } from "./audit.ts";
import { authorizeRequest } from "./auth.ts";
import { accessReviews } from "./access-reviews.ts";
import { dashboard } from "./dashboard.ts";
import { history } from "./history.ts";
import { ingress } from "./ingress.ts";
import { jobSinks } from "./job-sinks.ts";
import { kubeDiscovery } from "./kube-discovery.ts";
import { live } from "./live.ts";
import { management } from "./management.ts";
import { operations } from "./operations.ts";
import { requestReply } from "./request-reply.ts";
import { reviews } from "./reviews.ts";
import { watchdog } from "./scheduled.ts";
import { webhooks } from "./webhooks.ts";

export { Autoscaler } from "../durable-objects/autoscaler.ts";
export { Broker } from "../durable-objects/broker.ts";
export { ControlPlane } from "../durable-objects/control-plane.ts";
export { Dispatcher } from "../durable-objects/dispatcher.ts";
export { EventDisplay } from "../durable-objects/event-display.ts";
export { FlowLimiter } from "../durable-objects/flow-limiter.ts";
export { ReplyWaiter } from "../durable-objects/reply-waiter.ts";
export { SourcePoller } from "../durable-objects/source-poller.ts";

const app = new Hono<{ Bindings: Env }>();
// Every management path, and nothing else, goes through authentication and RBAC (API.md §11).
for (const path of ["/api", "/api/*", "/apis", "/apis/*", "/openapi/*", "/metrics", "/display/*"]) app.use(path, authorizeRequest);
// Order matters: fixed paths before the two-segment ingress path.
app.route("/", operations);
app.route("/", dashboard);
app.route("/", live);
app.route("/", reviews);
app.route("/", accessReviews);
app.route("/", audit); // before management: its paths look like a kind's
app.route("/", history);
app.route("/", kubeDiscovery); // before management: /apis/{group}/{version} is discovery
app.route("/", management);
app.route("/", jobSinks);
app.route("/", webhooks);
app.route("/", requestReply); // before ingress: its three-segment path is a composition's address otherwise
app.route("/", ingress);
app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));
app.onError((err, c) => {
  console.log(JSON.stringify({ level: "error", msg: "unhandled", error: err.message, stack: err.stack }));
  return c.json({ error: "internal error" }, 500);
});

export default {
  fetch: app.fetch,
  scheduled: (_controller, env, ctx) => ctx.waitUntil(watchdog(env)),
} satisfies ExportedHandler<Env>;
