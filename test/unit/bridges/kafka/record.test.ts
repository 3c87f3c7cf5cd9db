import { describe, expect, it } from "vitest";
import { decodeStructured } from "../../../../shared/cloudevents/index.ts";
import { recordToMessage } from "../../../../shared/bridges/kafka/index.ts";
import type { KafkaRecord, KeyType } from "../../../../shared/bridges/kafka/index.ts";

const text = (s: string) => new TextEncoder().encode(s);
const source = { namespace: "default", name: "kafka-source" };
const base: KafkaRecord = { topic: "logs", partition: 0, offset: 1, key: null, value: text('{"a":1}') };
const map = (record: Partial<KafkaRecord>, keyType: KeyType = "string") => recordToMessage({ ...base, ...record }, source, keyType);

describe("plain records become dev.knative.kafka.event", () => {
  it("uses Knative's id, source, subject, time, key and header extensions", () => {
    const message = map({
      offset: 1,
      key: text("order-42"),
      timestamp: 1591897790000,
      headers: [
        { key: "X-Trace_Id", value: text("abc") },
        { key: "content-type", value: text("Application/JSON") },
      ],
    });
    expect(message.key).toBe("logs/0/1");
    expect(message.event?.attributes).toEqual({
      specversion: "1.0",
      id: "partition:0/offset:1",
      source: "/apis/v1/namespaces/default/kafkasources/kafka-source#logs",
      type: "dev.knative.kafka.event",
      subject: "partition:0#1",
      time: "2020-06-11T17:49:50Z",
      kafkaheaderxtraceid: "abc",
      datacontenttype: "application/json",
      key: "order-42",
      partitionkey: "order-42",
    });
    expect(message.event?.data).toEqual({ kind: "json", json: '{"a":1}' });
  });

  it("keeps the value's bytes when there is no content-type header", () => {
    const message = map({ value: text("plain text") });
    expect(message.event?.data).toEqual({ kind: "binary", bytes: text("plain text") });
    expect(message.event?.attributes.datacontenttype).toBeUndefined();
  });

  it("writes the time's fraction only as far as needed, like Java", () => {
    expect(map({ timestamp: 1591897790120 }).event?.attributes.time).toBe("2020-06-11T17:49:50.12Z");
    expect(map({ timestamp: 1591897790007 }).event?.attributes.time).toBe("2020-06-11T17:49:50.007Z");
  });

  it("has no time where the bridge returns no timestamp, no data for a tombstone, no key for an empty key", () => {
    const message = map({ value: null, key: new Uint8Array() });
    expect(message.event?.attributes).not.toHaveProperty("time");
    expect(message.event?.attributes).not.toHaveProperty("key");
    expect(message.event?.data).toBeUndefined();
  });
});

describe("key-type label", () => {
  const be = (size: number, write: (v: DataView) => void) => {
    const buffer = new Uint8Array(size);
    write(new DataView(buffer.buffer));
    return buffer;
  };
  const key = (bytes: Uint8Array, keyType: KeyType) => map({ key: bytes }, keyType).event?.attributes.key;

  it("int: a 4-byte big-endian integer, anything else a string", () => {
    expect(
      key(
        be(4, (v) => v.setInt32(0, -42)),
        "int",
      ),
    ).toBe(-42);
    expect(key(text("abc"), "int")).toBe("abc");
  });

  it("float: 4 or 8 bytes, as Java prints the number", () => {
    expect(
      key(
        be(4, (v) => v.setFloat32(0, 0.1)),
        "float",
      ),
    ).toBe("0.1");
    expect(
      key(
        be(8, (v) => v.setFloat64(0, 1.5)),
        "float",
      ),
    ).toBe("1.5");
    expect(
      key(
        be(8, (v) => v.setFloat64(0, 2)),
        "float",
      ),
    ).toBe("2.0");
    expect(
      key(
        be(8, (v) => v.setFloat64(0, 1e7)),
        "float",
      ),
    ).toBe("1.0E7");
    expect(
      key(
        be(8, (v) => v.setFloat64(0, 0.0001)),
        "float",
      ),
    ).toBe("1.0E-4");
  });

  it("byte-array: the CloudEvents Binary form (base64), also as partitionkey", () => {
    const message = map({ key: new Uint8Array([0, 255, 1]) }, "byte-array");
    expect(message.event?.attributes.key).toBe("AP8B");
    expect(message.event?.attributes.partitionkey).toBe("AP8B");
  });
});

describe("records that already are CloudEvents pass through unchanged", () => {
  const structuredJson = '{"specversion":"1.0","id":"e1","source":"/orders","type":"order.created","data":{"n": 1.0}}';

  it("structured value through a bridge without headers (Confluent v2, Redpanda)", () => {
    const message = map({ value: text(structuredJson), key: text("k") });
    expect(message.event).toEqual(decodeStructured(structuredJson));
  });

  it("structured mode needs the content-type header where the bridge returns headers", () => {
    const tagged = map({ value: text(structuredJson), headers: [{ key: "content-type", value: text("application/cloudevents+json; charset=UTF-8") }] });
    expect(tagged.event).toEqual(decodeStructured(structuredJson));
    const untagged = map({ value: text(structuredJson), headers: [] });
    expect(untagged.event?.attributes.type).toBe("dev.knative.kafka.event");
  });

  it("binary mode: ce_ headers are the attributes, content-type the datacontenttype", () => {
    const message = map({
      value: text('{"ok":true}'),
      headers: [
        { key: "ce_specversion", value: text("1.0") },
        { key: "ce_id", value: text("b-1") },
        { key: "ce_source", value: text("/billing") },
        { key: "ce_type", value: text("invoice.paid") },
        { key: "ce_tenant", value: text("acme") },
        { key: "content-type", value: text("application/json") },
      ],
    });
    expect(message.event).toEqual({
      attributes: { specversion: "1.0", id: "b-1", source: "/billing", type: "invoice.paid", tenant: "acme", datacontenttype: "application/json" },
      data: { kind: "json", json: '{"ok":true}' },
    });
  });

  it("a CloudEvent that does not validate is wrapped, as Knative's InvalidCloudEvent is", () => {
    const message = map({
      headers: [
        { key: "ce_specversion", value: text("1.0") },
        { key: "ce_type", value: text("t") },
      ],
    });
    expect(message.event?.attributes.type).toBe("dev.knative.kafka.event");
    expect(message.event?.attributes.kafkaheadercespecversion).toBe("1.0");
  });
});

describe("poison records", () => {
  it("reports why a record cannot become a CloudEvent, naming the attribute", () => {
    const message = map({ headers: [{ key: "note", value: text("line\nbreak") }] });
    expect(message.event).toBeUndefined();
    expect(message.key).toBe("logs/0/1");
    expect(message.poison).toMatch(/record logs\/0\/1 cannot become a CloudEvent: .*kafkaheadernote/);
  });
});
