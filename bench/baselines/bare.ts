/** Baseline 1: the cheapest Worker that still does an ingress's I/O: read the body, answer 202. */
export default {
  async fetch(request: Request): Promise<Response> {
    await request.arrayBuffer();
    return new Response(null, { status: 202 });
  },
};
