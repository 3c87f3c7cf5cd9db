/**
 * The routing table shared by a location's isolates (durable-objects/route-cache.ts): control-plane
 * requests per isolate, counted. Each "isolate" is an IsolateRoutes of its own (what an isolate keeps in
 * memory), all behind one Cache API, as the isolates of one location are.
 */
import { env, exports } from "cloudflare:workers";
import { expect, it } from "vitest";
import { IsolateRoutes } from "../../clients/route-cache.ts";
import { auth, broker, resourcePath } from "../support/client.ts";

const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);

let requests = 0;
const counting = {
  ...env,
  CONTROL: {
    getByName: (name: string) => ({
      routes: () => {
        requests++;
        return (env.CONTROL.getByName(name) as any).routes();
      },
    }),
  },
} as unknown as Env;

const lookup = (routes: IsolateRoutes, name: string) => routes.lookup(counting, (t) => t.brokers[`routes/${name}`]);

it("ten isolates of a location ask the control plane once for the table, and about once for misses that come together", async () => {
  const put = (name: string) =>
    fetchRouter(resourcePath("routes", "brokers", name), {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(broker(name)),
    });
  expect((await put("a")).status).toBe(201);
  const isolates = Array.from({ length: 10 }, () => new IsolateRoutes());
  for (const routes of isolates) expect(await lookup(routes, "a")).toMatchObject({ partitions: 1 });
  // Before: one request per isolate (and one more per isolate every 30 s).
  expect(requests).toBe(1);

  // A miss in every isolate at once: they wait for their refresh slot, and the first to ask shares its answer.
  const misses = await Promise.all(isolates.map((routes) => lookup(routes, "nope")));
  expect(misses).toEqual(Array(10).fill(null));
  expect(requests).toBeLessThanOrEqual(3);

  // A broker created through one isolate: the location's table is dropped, so every isolate's miss finds it.
  const before = requests;
  const [writer, ...others] = isolates;
  expect((await put("b")).status).toBe(201);
  await writer.forget();
  expect(await lookup(writer, "b")).toMatchObject({ partitions: 1 });
  // The others' misses come together, as a producer's traffic to a new broker does: a miss takes only a
  // table served after it began (never an older one, which may not know the broker), here the first one's.
  const found = await Promise.all(others.map((routes) => lookup(routes, "b")));
  expect(found).toEqual(Array(9).fill(expect.objectContaining({ partitions: 1 })));
  expect(requests - before).toBeLessThanOrEqual(4);
});
