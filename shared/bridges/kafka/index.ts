export { createKafkaPoller, LAG_REFRESH_MS } from "./poller.ts";
export type { KafkaPoller, KafkaPollerState, KafkaPollerStatus, PartitionState, PollerStateStore } from "./poller.ts";
export { validateKafkaPollerConfig, BRIDGE_TYPES } from "./config.ts";
export type { BridgeAuth, BridgeType, ConfigError, KafkaPollerConfig, TopicPartition } from "./config.ts";
export { recordToMessage, recordKey, KEY_TYPES } from "./record.ts";
export type { KafkaHeader, KafkaRecord, KeyType, SourceRef } from "./record.ts";
export { KafkaBridgeError, InstanceGoneError, ResponseTooLargeError } from "./bridge.ts";
export { kafkaPollerConfig, validateKafkaSourceSpec, KEY_TYPE_LABEL } from "./spec.ts";
