/**
 * Baseline 2: forward the request straight to the subscriber (SUBSCRIBER_URL + path) and answer its status.
 * `?copies=N` forwards it to N subscriber paths (path/0 ... path/N-1) at once: a fan-out without storage.
 */
interface Env {
  SUBSCRIBER_URL: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const body = await request.arrayBuffer();
    const copies = url.searchParams.get("copies");
    const targets = copies === null ? [url.pathname] : Array.from({ length: Number(copies) }, (_, i) => `${url.pathname}/${i}`);
    const answers = await Promise.all(
      targets.map(async (path) => {
        const res = await fetch(`${env.SUBSCRIBER_URL}${path}`, { method: "POST", headers: request.headers, body });
        await res.arrayBuffer();
        return res.ok;
      }),
    );
    return new Response(null, { status: answers.every((ok) => ok) ? 202 : 502 });
  },
};
