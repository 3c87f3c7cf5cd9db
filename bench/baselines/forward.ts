/** Baseline 2: forward the request straight to the subscriber (SUBSCRIBER_URL + path) and answer its status. */
interface Env {
  SUBSCRIBER_URL: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const res = await fetch(`${env.SUBSCRIBER_URL}${url.pathname}`, { method: "POST", headers: request.headers, body: await request.arrayBuffer() });
    await res.arrayBuffer();
    return new Response(null, { status: res.ok ? 202 : 502 });
  },
};
