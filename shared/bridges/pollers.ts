/**
 * Which bridge client runs which source kind, built from a stored (validated) manifest. The source
 * poller object holds one of these per source; secrets are read by name, state is saved through
 * `store` (Kafka keeps its consumer instance and pending offsets there).
 */
import type { BridgeKind } from "../resources/kinds.ts";
import type { Manifest } from "../resources/manifest.ts";
import { createKafkaPoller } from "./kafka/poller.ts";
import type { PollerStateStore } from "./kafka/poller.ts";
import { kafkaPollerConfig } from "./kafka/spec.ts";
import { createMnsPoller } from "./mns/poller.ts";
import { mnsPollerConfig } from "./mns/spec.ts";
import { createRedisStreamPoller } from "./redis/poller.ts";
import { redisStreamPollerConfig } from "./redis/spec.ts";
import { createRocketMQPoller } from "./rocketmq/poller.ts";
import { rocketMQPollerConfig } from "./rocketmq/spec.ts";
import type { FetchLike, PollBatch, SourcePoller } from "./types.ts";
import type { SecretReader } from "../secrets.ts";

export interface BridgeDeps {
  secret: SecretReader;
  fetch: FetchLike;
  store: PollerStateStore;
  /** KafkaSource: which of its consumer instances this poller runs. */
  consumer?: number;
}

/** A poller plus what the loop may call while it does not poll (backpressure). */
export interface SourceBridge extends SourcePoller {
  /** Keeps a server-side consumer from expiring while fetching is paused (Kafka); absent elsewhere. */
  keepAlive?(): Promise<void>;
}

type BridgeFactory = (manifest: Manifest, deps: BridgeDeps) => SourceBridge;

/** One client per bridge kind: the compiler refuses a kind with `runs: "bridge"` missing here. */
const BRIDGES: { [K in BridgeKind]: BridgeFactory } = {
  KafkaSource: (manifest, deps) => {
    const poller = createKafkaPoller(
      kafkaPollerConfig({ ...sourceOf(manifest), uid: manifest.metadata.uid, labels: manifest.metadata.labels }, manifest.spec, deps.secret, deps.consumer),
      deps.fetch,
      deps.store,
    );
    const extensions = (manifest.spec.ceOverrides as { extensions?: Record<string, string> } | undefined)?.extensions;
    return extensions ? { ...poller, poll: async (signal) => withOverrides(await poller.poll(signal), extensions) } : poller;
  },
  RocketMQSource: (manifest, deps) => createRocketMQPoller(rocketMQPollerConfig(sourceOf(manifest), manifest.spec, deps.secret), deps.fetch),
  MNSSource: (manifest, deps) => createMnsPoller(mnsPollerConfig(sourceOf(manifest), manifest.spec, deps.secret), deps.fetch),
  RedisStreamSource: (manifest, deps) => {
    const { config, redis } = redisStreamPollerConfig(sourceOf(manifest), manifest.spec, deps.secret);
    return createRedisStreamPoller(config, { ...redis, retry: false, enableTelemetry: false });
  },
};

const sourceOf = (m: Manifest) => ({ namespace: m.metadata.namespace!, name: m.metadata.name });

/** The bridge client of a source manifest; throws naming the field when a secret is not set. */
export function createSourceBridge(manifest: Manifest, deps: BridgeDeps): SourceBridge {
  const create = (BRIDGES as Record<string, BridgeFactory>)[manifest.kind];
  if (!create) throw new Error(`kind ${manifest.kind} has no bridge`);
  return create(manifest, { ...deps, fetch: namingUrl(deps.fetch) });
}

/**
 * A fetch whose network failures name the request (`GET https://bridge/consumers/g: Network connection
 * lost.`), so a source's PollFailed status says which endpoint could not be reached. Query strings and
 * credentials in the URL are left out.
 */
function namingUrl(fetch: FetchLike): FetchLike {
  return async (input, init) => {
    try {
      return await fetch(input, init);
    } catch (error) {
      const url = new URL(input);
      throw new Error(`${init?.method ?? "GET"} ${url.origin}${url.pathname}: ${(error as Error).message}`, { cause: error });
    }
  };
}

/** Knative applies `ceOverrides.extensions` on top of every event of the source. */
function withOverrides(batch: PollBatch, extensions: Record<string, string>): PollBatch {
  return {
    ...batch,
    messages: batch.messages.map((m) => (m.event ? { ...m, event: { ...m.event, attributes: { ...m.event.attributes, ...extensions } } } : m)),
  };
}
