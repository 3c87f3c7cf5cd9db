/**
 * A broker partition's live feed (WebSocket, hibernation API): every accepted event with the triggers it
 * matched, and every delivery outcome. The Worker authenticates before it forwards the upgrade.
 */
import type { LiveMessage } from "../../shared/resources/broker-api.ts";

export class LiveFeed {
  private readonly ctx: DurableObjectState;

  constructor(ctx: DurableObjectState) {
    this.ctx = ctx;
  }

  /** Accept a watcher's upgrade. */
  open(request: Request): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  /** Send the messages `build` makes, built only when someone watches. */
  send(build: () => LiveMessage[]): void {
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) return;
    for (const message of build()) {
      const text = JSON.stringify(message);
      for (const ws of sockets) {
        try {
          ws.send(text);
        } catch {
          // a socket closing under us: the runtime drops it
        }
      }
    }
  }
}
