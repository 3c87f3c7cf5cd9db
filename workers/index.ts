import { Hono } from "hono";
import { DurableObject } from "cloudflare:workers";
export class ControlPlane extends DurableObject<Env> {}
export class Broker extends DurableObject<Env> {}
export class Dispatcher extends DurableObject<Env> {}
export class EventDisplay extends DurableObject<Env> {}
const app = new Hono<{ Bindings: Env }>();
app.get("/healthz", (c) => c.json({ status: "ok" }));
export default app;
