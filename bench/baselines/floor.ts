/**
 * Baseline 3, the floor: the smallest durable store-and-forward anyone would write on this platform. One
 * Durable Object inserts the event as a row before answering 202 (the output gate holds the answer until
 * the write is durable) and deletes it after the subscriber's 2xx; an alarm retries what failed. Rows
 * written are summed from `cursor.rowsWritten`, as the router counts its own. `/_rpc` is the bare RPC to
 * the object, without storage (a stage of the latency profile).
 */
import { DurableObject } from "cloudflare:workers";

interface Env {
  SUBSCRIBER_URL: string;
  FLOOR: DurableObjectNamespace<Floor>;
}

export class Floor extends DurableObject<Env> {
  private written = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY, path TEXT, headers TEXT, body BLOB)");
  }

  accept(path: string, headers: [string, string][], body: ArrayBuffer): void {
    const [{ id }] = this.sql("INSERT INTO queue (path, headers, body) VALUES (?, ?, ?) RETURNING id", path, JSON.stringify(headers), body);
    this.ctx.waitUntil(this.forward(id as number, path, headers, body));
  }

  ping(): void {}

  rowsWritten(): number {
    return this.written;
  }

  override async alarm(): Promise<void> {
    for (const r of this.sql("SELECT * FROM queue"))
      await this.forward(r.id as number, r.path as string, JSON.parse(r.headers as string), r.body as ArrayBuffer);
  }

  private async forward(id: number, path: string, headers: [string, string][], body: ArrayBuffer): Promise<void> {
    try {
      const res = await fetch(`${this.env.SUBSCRIBER_URL}${path}`, { method: "POST", headers, body });
      await res.arrayBuffer();
      if (res.ok) return void this.sql("DELETE FROM queue WHERE id = ?", id);
    } catch {
      // retried by the alarm
    }
    await this.ctx.storage.setAlarm(Date.now() + 1000);
  }

  private sql(query: string, ...params: unknown[]): Record<string, SqlStorageValue>[] {
    const cursor = this.ctx.storage.sql.exec(query, ...params);
    const rows = cursor.toArray();
    this.written += cursor.rowsWritten;
    return rows;
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url);
    const floor = env.FLOOR.getByName("floor");
    if (pathname === "/_rows") return Response.json(await floor.rowsWritten());
    if (pathname === "/_rpc") {
      await floor.ping();
      return new Response(null, { status: 202 });
    }
    const headers = [...request.headers].filter(([k]) => k.startsWith("ce-") || k === "content-type");
    await floor.accept(pathname, headers, await request.arrayBuffer());
    return new Response(null, { status: 202 });
  },
};
