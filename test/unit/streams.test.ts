/**
 * readBodyCapped (shared/streams.ts): the cap is on the bytes actually read, whatever the Content-Length
 * says. A declared length within the cap takes the one-call read; a lie either way must not let more than
 * `max` bytes through, nor cut or pad an honest body.
 */
import { describe, expect, it } from "vitest";
import { readBodyCapped } from "../../shared/streams.ts";

const MAX = 100;
const bytes = (n: number) => new Uint8Array(n).map((_, i) => i % 251);
/** A response whose Content-Length header says `declared`, whatever its body holds. */
const message = (body: Uint8Array, declared?: string, extra: Record<string, string> = {}) =>
  new Response(body, { headers: { ...(declared === undefined ? {} : { "content-length": declared }), ...extra } });

describe("readBodyCapped", () => {
  it("reads an honest body within the cap whole, with or without a Content-Length", async () => {
    expect(await readBodyCapped(message(bytes(MAX), String(MAX)), MAX)).toEqual({ bytes: bytes(MAX), truncated: false });
    expect(await readBodyCapped(message(bytes(40)), MAX)).toEqual({ bytes: bytes(40), truncated: false });
  });

  it("cuts a body over the cap at the cap, whether its Content-Length says so, is missing or is not a number", async () => {
    for (const declared of [String(MAX + 1), undefined, "lots"]) {
      const got = await readBodyCapped(message(bytes(5 * MAX), declared), MAX);
      expect(got, `content-length ${declared}`).toEqual({ bytes: bytes(MAX), truncated: true });
    }
  });

  it("a Content-Length that says less than the body sends: capped by the bytes read", async () => {
    const message10 = message(bytes(5 * MAX), "10");
    expect(message10.headers.get("content-length")).toBe("10");
    expect(await readBodyCapped(message10, MAX)).toEqual({ bytes: bytes(MAX), truncated: true });
    // A lie within the cap neither cuts the body at the declared length nor refuses it.
    expect(await readBodyCapped(message(bytes(60), "10"), MAX)).toEqual({ bytes: bytes(60), truncated: false });
  });

  it("a Content-Length that says more than the body sends: the body as read, not padded, not refused", async () => {
    expect(await readBodyCapped(message(bytes(7), "90"), MAX)).toEqual({ bytes: bytes(7), truncated: false });
    expect(await readBodyCapped(message(bytes(7), String(50 * MAX)), MAX)).toEqual({ bytes: bytes(7), truncated: false });
  });

  it("a content-encoded body is capped by its bytes too (its length may not be the decoded one)", async () => {
    expect(await readBodyCapped(message(bytes(5 * MAX), "10", { "content-encoding": "identity" }), MAX)).toEqual({ bytes: bytes(MAX), truncated: true });
  });

  it("no body is an empty one", async () => {
    expect(await readBodyCapped(new Response(null), MAX)).toEqual({ bytes: new Uint8Array(0), truncated: false });
  });
});
