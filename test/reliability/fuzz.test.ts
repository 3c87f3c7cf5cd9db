/**
 * Bad input: at least 10,000 malformed requests of every kind a careless or hostile client sends. Each
 * must get a 4xx (never a 5xx, never a hang), and valid events sent in between and afterwards must still
 * be accepted and delivered.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { auth, receivedAtLeast } from "../support/client.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";
import { startSubscriber, type Subscriber } from "../support/subscriber.ts";
import { apply, broker, event, trigger } from "./harness.ts";

const NS = "fuzz";
const REQUESTS = 10_000;
const CONCURRENCY = 16;
/** A request without an answer after this long counts as a hang. */
const HANG_MS = 10_000;
/** One valid event after every this many malformed requests. */
const VALID_EVERY = 100;

/** Deterministic (mulberry32), so a failure replays with the same inputs. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Malformed = { kind: string; path: string; init: RequestInit };

function generators(rand: () => number): ((i: number) => Malformed)[] {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const ce = (extra: Record<string, string>) => ({ "ce-specversion": "1.0", "ce-id": "x", "ce-source": "/fuzz", "ce-type": "t", ...extra });
  const ingress = `/${NS}/b`;
  const valid = { specversion: "1.0", id: "x", source: "/fuzz", type: "t" };
  const json = JSON.stringify(valid);
  return [
    (i) => ({ kind: "broken JSON", path: ingress, init: { method: "POST", headers: { "content-type": "application/cloudevents+json" }, body: json.slice(0, Math.floor(rand() * (json.length - 1))) + pick(["", "}", ",", "\u0000", "{{"]) } }),
    (i) => ({ kind: "bad percent-encoding", path: ingress, init: { method: "POST", headers: { ...ce({ "ce-id": `id-${i}`, "ce-subject": pick(["%", "%zz", "%E0%A4%A", "%C3%28", "a%2"]) }), "content-type": "application/json" }, body: "{}" } }),
    (i) => ({ kind: "invalid attribute name", path: ingress, init: { method: "POST", headers: { ...ce({ [pick(["ce-under_score", "ce-UPPER-dash", "ce-dot.ted"])]: "v" }), "content-type": "application/json" }, body: "{}" } }),
    (i) => ({ kind: "invalid attribute type", path: ingress, init: { method: "POST", headers: { "content-type": "application/cloudevents+json" }, body: JSON.stringify({ ...valid, ...pick([{ time: "yesterday" }, { specversion: "2.0" }, { id: "" }, { source: 42 }, { type: null }, { dataschema: "::" }, { ext: { nested: true } }, { data_base64: "!!notbase64" }]) }) } }),
    (i) => ({ kind: "missing required attribute", path: ingress, init: { method: "POST", headers: { ...ce({}), [pick(["ce-id", "ce-source", "ce-type", "ce-specversion"])]: "" }, body: "{}" } }),
    (i) => ({ kind: "wrong content type", path: ingress, init: { method: "POST", headers: { "content-type": pick(["application/cloudevents+xml", "application/cloudevents-batch+xml", "text/plain", "multipart/form-data; boundary=x"]) }, body: json } }),
    (i) => ({ kind: "batch not an array / bad element", path: ingress, init: { method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: pick(["{}", "[1,2]", `[${json},{}]`, "[", '"x"']) } }),
    (i) => ({ kind: "huge batch", path: ingress, init: { method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: JSON.stringify(Array.from({ length: 1001 }, (_, k) => ({ ...valid, id: `h${i}-${k}` }))) } }),
    (i) => ({ kind: "bad YAML manifest", path: `/apis/eventing.knative.dev/v1/namespaces/${NS}/triggers/t${i}`, init: { method: "PUT", headers: { ...auth, "content-type": "application/yaml" }, body: pick(["a: [", "kind: Trigger\n\tbad: tab", "- - - :", "apiVersion: {x: ", "&a [*a, *a]: 1", "metadata: !!binary x"]) } }),
    (i) => ({ kind: "bad JSON manifest", path: `/apis/eventing.knative.dev/v1/namespaces/${NS}/brokers/b${i}`, init: { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: pick(["{", "[]", "null", '{"kind":"Broker"}', '{"apiVersion":1}']) } }),
  ];
}

/** Oversized requests are expensive to send: one in every this many requests, bodies and heads in turn. */
const OVERSIZED_EVERY = 100;
/**
 * A body over the 1 MiB ingress limit (413), or a request head over the runtime's limit (431). Long
 * headers under that limit are legal CloudEvents attributes and are accepted.
 */
function oversized(i: number, rand: () => number): Malformed {
  const ce = { "ce-specversion": "1.0", "ce-id": `o${i}`, "ce-source": "/fuzz", "ce-type": "t" };
  return i % (2 * OVERSIZED_EVERY) === 0
    ? { kind: "oversized body", path: `/${NS}/b`, init: { method: "POST", headers: { "content-type": "application/cloudevents-batch+json" }, body: "[" + " ".repeat(1024 * 1024 + Math.floor(rand() * 1024 * 1024)) + "]" } }
    : { kind: "oversized header", path: `/${NS}/b`, init: { method: "POST", headers: { ...ce, "ce-big": "x".repeat(1024 * 1024 + Math.floor(rand() * 1024 * 1024)), "content-type": "application/json" }, body: "{}" } };
}

let router: RunningRouter;
let sub: Subscriber;
beforeAll(async () => {
  [router, sub] = await Promise.all([startRouter(), startSubscriber()]);
  await apply(router.url, NS, "brokers", broker("b"));
  await apply(router.url, NS, "triggers", trigger("valid", { broker: "b", subscriber: { uri: `${sub.url}/fuzz` } }));
});
afterAll(async () => {
  await router?.kill();
  await sub?.close();
});

it(`answers ${REQUESTS} malformed requests with 4xx only, and keeps serving valid traffic`, async () => {
  const rand = prng(7);
  const gens = generators(rand);
  const byKind = new Map<string, Record<string, number>>();
  const bad: string[] = [];
  const validStatus: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < REQUESTS) {
      const i = next++;
      if (i % VALID_EVERY === 0) {
        const r = await fetch(`${router.url}/${NS}/b`, { ...event(`valid-${i}`), signal: AbortSignal.timeout(HANG_MS) });
        await r.arrayBuffer();
        validStatus.push(r.status);
      }
      const m = i % OVERSIZED_EVERY === 0 ? oversized(i, rand) : gens[i % gens.length](i);
      let status: string;
      try {
        const r = await fetch(`${router.url}${m.path}`, { ...m.init, signal: AbortSignal.timeout(HANG_MS) });
        await r.arrayBuffer();
        status = String(r.status);
      } catch (e) {
        status = (e as Error).name === "TimeoutError" ? "hang" : `error: ${(e as Error).message}`;
      }
      const counts = byKind.get(m.kind) ?? {};
      counts[status] = (counts[status] ?? 0) + 1;
      byKind.set(m.kind, counts);
      if (!/^4\d\d$/.test(status)) bad.push(`#${i} ${m.kind}: ${status}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  for (const [kind, counts] of byKind) console.log(`fuzz ${kind}: ${JSON.stringify(counts)}`);
  console.log(`fuzz: ${REQUESTS} malformed requests, ${bad.length} not 4xx; ${validStatus.length} valid events interleaved`);
  expect(bad.slice(0, 20)).toEqual([]);
  expect(validStatus.every((s) => s === 202)).toBe(true);

  // After the run: still serving, and every valid event was delivered.
  const after = await fetch(`${router.url}/${NS}/b`, event("valid-after"));
  expect(after.status).toBe(202);
  await receivedAtLeast(sub.url, "/fuzz", validStatus.length + 1, 30_000);
});
