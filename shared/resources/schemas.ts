/**
 * The schema of every kind the management API serves (shared/resources/schema.ts walks them): Knative's
 * and KEDA's fields as their CRDs define them, plus the router's own (`spec.bridge`, Worker secrets,
 * `spec.cluster`). Fields a Knative manifest carries that the router has no use for (`bootstrapServers`,
 * `net`, `serviceAccountName`) are listed so that the manifest applies unchanged; they are stored and unused.
 */
import type { KindName } from "./kinds.ts";
import type { ArraySchema, ObjectSchema, Schema } from "./schema.ts";

const str = (description?: string): Schema => ({ type: "string", ...(description ? { description } : {}) });
const int = (description?: string): Schema => ({ type: "integer", ...(description ? { description } : {}) });
const bool: Schema = { type: "boolean" };
const list = (items: Schema, description?: string): ArraySchema => ({ type: "array", items, ...(description ? { description } : {}) });
const obj = (properties: Record<string, Schema>, description?: string): ObjectSchema => ({
  type: "object",
  properties,
  ...(description ? { description } : {}),
});
const mapOf = (values: Schema, description?: string): ObjectSchema => ({
  type: "object",
  additionalProperties: values,
  ...(description ? { description } : {}),
});
const free = (description: string): ObjectSchema => ({ type: "object", preserveUnknownFields: true, description });

/** Kubernetes ObjectMeta: the fields a client may send (server-set ones are accepted and replaced). */
const objectMeta = obj({
  name: str(),
  generateName: str(),
  namespace: str(),
  uid: str(),
  resourceVersion: str(),
  generation: int(),
  creationTimestamp: str(),
  deletionTimestamp: str(),
  deletionGracePeriodSeconds: int(),
  selfLink: str(),
  labels: mapOf(str()),
  annotations: mapOf(str()),
  finalizers: list(str()),
  ownerReferences: list(free("Kubernetes owner references, kept as given")),
  managedFields: list(free("Kubernetes server-side apply bookkeeping, kept as given")),
});

/** `{secretKeyRef: {name}}`: the name of a Worker secret (never a value). */
const workerSecret = obj({ secretKeyRef: obj({ name: str("a Worker secret's name (wrangler secret put NAME)") }) });
/** Kubernetes' SecretKeySelector as Knative's kinds write it; `name` names the Worker secret, `key` is not used. */
const kubeSecret = obj({ secretKeyRef: obj({ name: str("a Worker secret's name"), key: str(), optional: bool }) });

/**
 * Knative's KReference and Destination, without the fields the router cannot honour (`CACerts`, `audience`,
 * `ref.group`, `ref.address`): refused as unknown rather than stored and ignored.
 */
const kReference = obj({ apiVersion: str(), kind: str(), name: str(), namespace: str() });
const destination = obj(
  { ref: kReference, uri: str("an absolute URL, or a path relative to ref") },
  "a Knative Destination: uri and/or ref (a Knative Service, a Broker or an EventDisplay)",
);
const delivery = obj(
  {
    deadLetterSink: destination,
    retry: int("retries after the first attempt"),
    backoffPolicy: str("linear or exponential"),
    backoffDelay: str("ISO 8601 duration"),
    backoffMax: str("ISO 8601 duration"),
    timeout: str("ISO 8601 duration per attempt"),
    retryAfterMax: str("ISO 8601 duration"),
    format: str("json or binary"),
  },
  "Knative's DeliverySpec",
);
const ceOverrides = obj({ extensions: mapOf(str()) }, "CloudEvent extensions set on every event");

/** A Trigger filter object; `all`, `any` and `not` nest filters (Knative's SubscriptionsAPIFilter, plus `cel`). */
const filter: ObjectSchema = obj({
  exact: mapOf(str()),
  prefix: mapOf(str()),
  suffix: mapOf(str()),
  cesql: str("a CloudEvents SQL expression"),
  cel: str("a CEL expression over `event`"),
});
Object.assign(filter.properties!, { all: list(filter), any: list(filter), not: filter });

/** What every source's spec has: the sink and the router's delivery channel settings. */
const sourceCommon = { sink: destination, delivery };

const broker = obj({ config: kReference, delivery }, "a Knative Broker: an ingress URL whose events reach every matching Trigger");
const trigger = obj(
  {
    broker: str("the Broker's name, immutable"),
    filter: obj({ attributes: mapOf(str()), sourceAndType: obj({ source: str(), type: str() }) }),
    filters: list(filter),
    subscriber: destination,
    delivery,
  },
  "a Knative Trigger: a filter over a Broker's events and the subscriber they are delivered to",
);
const pingSource = obj(
  {
    schedule: str("cron, five or six fields"),
    timezone: str("IANA time zone"),
    contentType: str(),
    data: str(),
    dataBase64: str(),
    ceOverrides,
    ...sourceCommon,
  },
  "a Knative PingSource: one event per cron tick",
);

const kafkaNet = obj({
  sasl: obj({ enable: bool, user: kubeSecret, password: kubeSecret, type: kubeSecret }),
  tls: obj({ enable: bool, cert: kubeSecret, key: kubeSecret, caCert: kubeSecret }),
});
const kafkaBridge = obj(
  {
    type: str("confluent-v2, strimzi, redpanda or upstash"),
    url: str("the bridge's base URL"),
    secretKeyRef: obj({ name: str("a Worker secret holding user:password or a bearer token") }),
    idleExpiryMs: int(),
    maxBytes: int(),
  },
  "the Kafka REST bridge the router reads through (Workers cannot speak Kafka's TCP protocol; see docs/BRIDGES.md)",
);
const kafkaCommon = {
  consumerGroup: str("immutable"),
  initialOffset: str("earliest or latest"),
  consumers: int(),
  ordering: str("ordered or unordered"),
  net: kafkaNet,
  ceOverrides,
  bridge: kafkaBridge,
  pollTimeoutMs: int(),
  assignment: list(obj({ topic: str(), partition: int() })),
  ...sourceCommon,
};
const names = list(str());
/** v1alpha1 took comma-separated strings (`topics: a,b`); later v1alpha1 releases, v1beta1 and v1 take lists. */
const namesOrCommaSeparated: Schema = { anyOf: [str(), names] };
const KAFKA = "a Knative KafkaSource: the topics' records as events, read through spec.bridge";
const kafkaSource = obj({ bootstrapServers: names, topics: names, ...kafkaCommon }, KAFKA);
const kafkaSourceV1alpha1 = obj(
  {
    bootstrapServers: namesOrCommaSeparated,
    topics: namesOrCommaSeparated,
    serviceAccountName: str(),
    resources: obj({ requests: obj({ cpu: str(), memory: str() }), limits: obj({ cpu: str(), memory: str() }) }),
    ...kafkaCommon,
  },
  KAFKA,
);

const gitHubSource = obj(
  {
    ownerAndRepository: str(),
    eventTypes: list(str()),
    accessToken: kubeSecret,
    secretToken: kubeSecret,
    githubAPIURL: str(),
    secure: bool,
    serviceAccountName: str(),
    ...sourceCommon,
  },
  "Knative's GitHubSource: verified GitHub webhooks as events",
);
const secretName = obj({ name: str("a Worker secret's name") });
const webhookSource = obj(
  {
    provider: str(),
    secretKeyRef: { anyOf: [secretName, list(secretName)] },
    timestampToleranceSeconds: int(),
    publicUrl: str(),
    genericHmac: obj({ header: str(), algorithm: str(), encoding: str(), prefix: str() }),
    ...sourceCommon,
  },
  "verified SaaS webhooks (Stripe, Slack, Standard Webhooks, ...) as events",
);
const alibabaCommon = {
  endpoint: str(),
  numOfMessages: int(),
  waitSeconds: int(),
  accessKeyId: workerSecret,
  accessKeySecret: workerSecret,
  securityToken: workerSecret,
  ...sourceCommon,
};
const rocketMQSource = obj(
  { instanceId: str(), topic: str(), groupId: str(), tag: str(), ...alibabaCommon },
  "Alibaba Cloud RocketMQ messages as events, read over its HTTP API",
);
const mnsSource = obj({ queue: str(), bodyEncoding: str("raw or base64"), ...alibabaCommon }, "Alibaba Cloud MNS queue messages as events");
const redisStreamSource = obj(
  {
    url: str(),
    token: workerSecret,
    stream: str(),
    consumerGroup: str(),
    consumer: str(),
    initialOffset: str(),
    count: int(),
    minIdleTime: str(),
    dataField: str(),
    ...sourceCommon,
  },
  "Redis stream entries as events, read through Upstash's REST API",
);

const jsonataExpression = obj({ expression: str("a JSONata expression over the event as structured JSON; its value must be a CloudEvent") });
const eventTransform = obj(
  {
    jsonata: jsonataExpression,
    sink: destination,
    reply: obj({ jsonata: jsonataExpression, discard: bool }, "what comes back from spec.sink: reshaped, or discarded"),
  },
  "Knative's EventTransform: a JSONata expression reshaping each event; the result is the reply, or goes to spec.sink",
);
const channelTemplate = free("Knative's channel template; accepted and ignored: the router's own channels carry the events");
const sequence = obj(
  {
    steps: list(obj({ uri: str(), ref: kReference, delivery }, "a step: a Knative Destination, with its own delivery")),
    reply: destination,
    channelTemplate,
  },
  "Knative's Sequence: each step's reply is the next step's event; the last reply goes to spec.reply",
);
const parallel = obj(
  {
    branches: list(
      obj(
        { filter: destination, subscriber: destination, reply: destination, delivery },
        "a branch: an optional filter service, the subscriber, its reply destination",
      ),
    ),
    reply: destination,
    channelTemplate,
  },
  "Knative's Parallel: every event to every branch whose filter passes it; replies go to the branch's or spec.reply",
);
const replay = obj(
  {
    broker: str("the Broker whose retained events are sent again"),
    from: str("RFC 3339: events received at or after"),
    to: str("RFC 3339: events received at or before (default: the Replay's creation)"),
    triggers: list(str(), "trigger names (default: every trigger of the broker)"),
    state: str("delivered, deadlettered, failed or any (default)"),
    filters: list(filter),
  },
  "sends a broker's retained events again through its triggers' current subscribers",
);

const labelSelector = {
  matchLabels: mapOf(str()),
  matchExpressions: list(obj({ key: str(), operator: str("In, NotIn, Exists or DoesNotExist"), values: list(str()) })),
};
const eventPolicy = obj(
  {
    to: list(
      obj({ ref: obj({ apiVersion: str(), kind: str("Broker"), name: str() }), selector: obj({ apiVersion: str(), kind: str("Broker"), ...labelSelector }) }),
      "the brokers it applies to (none: every broker of the namespace)",
    ),
    from: list(
      obj({
        ref: kReference,
        sub: str("an OIDC subject; a final * matches any rest"),
        issuer: str("the iss whose tokens prove sub (required while OIDC_ISSUERS lists several)"),
      }),
      "who may send: token subjects, or sources the router runs",
    ),
    filters: list(filter, "Knative's filters every allowed event must pass"),
  },
  "Knative's EventPolicy: which senders may post events to which brokers (OIDC tokens at ingress)",
);

const requestReply = obj(
  {
    brokerRef: obj(
      { apiVersion: str(), kind: str("Broker"), name: str(), namespace: str("the RequestReply's own namespace") },
      "the Broker that requests go to and replies come from",
    ),
    correlationAttribute: str("the attribute the router sets on each request (default correlationid)"),
    replyAttribute: str("the attribute a reply carries the correlation value back in (default replyid)"),
    timeout: str("ISO 8601 duration a request waits for its reply (default PT30S, at most PT5M)"),
    delivery,
    secrets: list(str(), "Worker secrets (SECRET_*) that sign the correlation values: the first signs, every one verifies"),
  },
  "Knative's RequestReply: POST an event, get the broker's reply to it as the answer",
);

const secretRef = obj({ name: str("a Worker secret's name") });
/** A ScaledObject's `spec.cluster`, and a KubernetesCluster's `spec`. */
const cluster = obj(
  {
    url: str("the Kubernetes API server"),
    secretKeyRef: secretRef,
    access: obj({ clientIdSecretKeyRef: secretRef, clientSecretSecretKeyRef: secretRef }),
    vpcService: str(),
  },
  "how the router reaches a Kubernetes API server: its URL, the Worker secret holding a ServiceAccount token, and Cloudflare Access or a Workers VPC service",
);
const scaledObject = obj(
  {
    scaleTargetRef: obj({ apiVersion: str(), kind: str(), name: str() }),
    pollingInterval: int(),
    cooldownPeriod: int(),
    minReplicaCount: int(),
    maxReplicaCount: int(),
    triggers: list(obj({ type: str(), metadata: mapOf({ anyOf: [{ type: "string" }, { type: "number" }, bool] }, "KEDA's trigger metadata") })),
    cluster,
  },
  "KEDA's ScaledObject: event-driven scaling of a workload in a remote Kubernetes cluster",
);
const kubernetesCluster = {
  ...cluster,
  description: "a Kubernetes cluster that ScaledObjects and JobSinks name with the edge-eventing.dev/cluster annotation",
};
/** Kubernetes' batch/v1 Job: the envelope checked, its spec kept as given (the API server validates it). */
const jobSink = obj(
  {
    job: obj(
      { apiVersion: str("batch/v1"), kind: str("Job"), metadata: objectMeta, spec: free("a batch/v1 JobSpec: the pod template runs once per event") },
      "the batch/v1 Job each event becomes",
    ),
  },
  "Knative's JobSink: each event becomes one Kubernetes Job, the event mounted at /etc/jobsink-event",
);

const policyRule = obj(
  {
    verbs: list(str()),
    apiGroups: list(str()),
    resources: list(str("a resource, resource/subresource, */subresource or *")),
    resourceNames: list(str()),
    nonResourceURLs: list(str("a path, or a prefix ending in *")),
  },
  "Kubernetes' PolicyRule",
);
const subject = obj({ kind: str("User, Group or ServiceAccount"), apiGroup: str(), name: str(), namespace: str() });
const roleRef = obj({ apiGroup: str(), kind: str("Role or ClusterRole"), name: str() });
const envelope = { apiVersion: str(), kind: str(), metadata: objectMeta };
const role = obj({ ...envelope, rules: list(policyRule) });
const clusterRole = obj({ ...envelope, rules: list(policyRule), aggregationRule: obj({ clusterRoleSelectors: list(obj(labelSelector)) }) });
const roleBinding = obj({ ...envelope, subjects: list(subject), roleRef });

/** A whole manifest of a kind whose spec has `spec`; `status` is the router's to compute and is dropped. */
function manifest(spec: ObjectSchema): ObjectSchema {
  return obj({ apiVersion: str(), kind: str(), metadata: objectMeta, spec, status: free("computed by the router; what a client sends is ignored") });
}

/** Each kind's manifest schema, by kind and then version (`*`: every version it is served in). */
export const SCHEMAS: Record<KindName, Record<string, ObjectSchema>> = {
  Broker: { "*": manifest(broker) },
  Trigger: { "*": manifest(trigger) },
  PingSource: { "*": manifest(pingSource) },
  KafkaSource: { "*": manifest(kafkaSource), v1alpha1: manifest(kafkaSourceV1alpha1) },
  GitHubSource: { "*": manifest(gitHubSource) },
  WebhookSource: { "*": manifest(webhookSource) },
  RocketMQSource: { "*": manifest(rocketMQSource) },
  MNSSource: { "*": manifest(mnsSource) },
  RedisStreamSource: { "*": manifest(redisStreamSource) },
  ScaledObject: { "*": manifest(scaledObject) },
  KubernetesCluster: { "*": manifest(kubernetesCluster) },
  JobSink: { "*": manifest(jobSink) },
  EventTransform: { "*": manifest(eventTransform) },
  Sequence: { "*": manifest(sequence) },
  Parallel: { "*": manifest(parallel) },
  EventPolicy: { "*": manifest(eventPolicy) },
  Replay: { "*": manifest(replay) },
  Role: { "*": role },
  RoleBinding: { "*": roleBinding },
  ClusterRole: { "*": clusterRole },
  ClusterRoleBinding: { "*": roleBinding },
  RequestReply: { "*": manifest(requestReply) },
};

export function schemaOf(kind: string, version: string): ObjectSchema {
  const byVersion = SCHEMAS[kind as KindName];
  return byVersion[version] ?? byVersion["*"];
}
