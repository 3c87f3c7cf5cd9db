/**
 * The built-in event display, like Knative's event-display service: a sink that keeps the last events it
 * received so a user can see them arrive without running anything (`ref: {kind: EventDisplay}`).
 */
import { DurableObject } from "cloudflare:workers";
import type { DisplayedEvent, EventDisplayRpc } from "../shared/contracts/sending.ts";

/** Events kept per display; older ones are dropped first. */
export const DISPLAY_CAPACITY = 100;

export class EventDisplay extends DurableObject<Env> implements EventDisplayRpc {
  private readonly sql = this.ctx.storage.sql;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql.exec("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT NOT NULL, body TEXT NOT NULL)");
  }

  /** `structured` is the event in CloudEvents JSON format. */
  record(structured: string): void {
    this.sql.exec("INSERT INTO events (received_at, body) VALUES (?, ?)", new Date().toISOString(), structured);
    this.sql.exec("DELETE FROM events WHERE seq <= (SELECT max(seq) FROM events) - ?", DISPLAY_CAPACITY);
  }

  /** Newest first. */
  list(): DisplayedEvent[] {
    return this.sql
      .exec<{ received_at: string; body: string }>("SELECT received_at, body FROM events ORDER BY seq DESC")
      .toArray()
      .map((r) => ({ receivedAt: r.received_at, event: JSON.parse(r.body) }));
  }
}
