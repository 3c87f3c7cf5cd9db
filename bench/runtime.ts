/**
 * The local runtime for the benchmarks: one Miniflare (one workerd process) holding the router, bundled
 * the way `wrangler deploy` bundles it, beside the baseline Workers (and the floor's Durable Object), each reachable on its own direct
 * socket so no proxy sits in front of any of them.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { convertV4MiniflareOptions, Miniflare, type V4WorkerOptionsShape } from "miniflare";
import { GC_TRACE_PORT } from "./gc-trace.ts";
import { childProcessNamed } from "./proc.ts";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

export const ROOT = resolve(import.meta.dirname, "..");
export const ADMIN_TOKEN = "bench-token";

export interface Runtime {
  router: string;
  bare: string;
  forward: string;
  /** The floor: one Durable Object that stores a row per event and deletes it once delivered (baselines/floor.ts). */
  floor: string;
  /** The workerd process, for memory sampling. */
  pid: number | null;
  dispose(): Promise<void>;
}

/** `wrangler deploy --dry-run`: the exact bundle a deploy would upload. */
export function bundleRouter(): string {
  const outdir = mkdtempSync(join(tmpdir(), "edge-eventing-bundle-"));
  execFileSync(join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
    cwd: ROOT,
    stdio: "ignore",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  return join(outdir, "index.js");
}

function baselineScript(name: string): string {
  return stripTypeScriptTypes(readFileSync(join(import.meta.dirname, "baselines", `${name}.ts`), "utf8"));
}

export async function startRuntime(opts: { subscriberUrl: string }): Promise<Runtime> {
  // wrangler's own reading of wrangler.toml: bindings, Durable Objects, compatibility, as `wrangler dev` has them.
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"));
  // Only what the bundled router needs; the rest (module rules, crons) is for wrangler's own build and dev loop.
  const { compatibilityDate, compatibilityFlags, durableObjects, bindings } = workerOptions as Pick<
    V4WorkerOptionsShape,
    "compatibilityDate" | "compatibilityFlags" | "durableObjects" | "bindings"
  >;
  const bundle = bundleRouter();
  const direct = [{ host: "127.0.0.1", port: 0 }];
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      inspectorPort: GC_TRACE_PORT,
      workers: [
        {
          name: "router",
          modules: true,
          scriptPath: bundle,
          modulesRoot: dirname(bundle),
          compatibilityDate,
          compatibilityFlags,
          durableObjects,
          bindings: { ...bindings, ADMIN_TOKEN, REQUEST_REPLY_SECRET: "bench-request-reply-secret" },
          unsafeDirectSockets: direct,
        },
        { name: "bare", modules: true, script: baselineScript("bare"), compatibilityDate, unsafeDirectSockets: direct },
        {
          name: "forward",
          modules: true,
          script: baselineScript("forward"),
          compatibilityDate,
          bindings: { SUBSCRIBER_URL: opts.subscriberUrl },
          unsafeDirectSockets: direct,
        },
        {
          name: "floor",
          modules: true,
          script: baselineScript("floor"),
          compatibilityDate,
          compatibilityFlags,
          bindings: { SUBSCRIBER_URL: opts.subscriberUrl },
          durableObjects: { FLOOR: { className: "Floor", useSQLite: true } },
          unsafeDirectSockets: direct,
        },
      ],
    }),
  );
  await mf.ready;
  const url = async (name: string) => (await mf.unsafeGetDirectURL(name)).origin;
  return {
    router: await url("router"),
    bare: await url("bare"),
    forward: await url("forward"),
    floor: await url("floor"),
    pid: childProcessNamed("workerd"),
    dispose: () => mf.dispose(),
  };
}
