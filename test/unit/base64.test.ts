import { describe, expect, it } from "vitest";
import { decodeBase64, decodeBase64Url, encodeBase64, encodeBase64Url } from "../../shared/base64.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

describe("base64", () => {
  it("round-trips every length and byte value, with the standard alphabet and padding", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (let n = 0; n <= 6; n++) expect(decodeBase64(encodeBase64(all.subarray(0, n)))).toEqual(all.subarray(0, n));
    expect(decodeBase64(encodeBase64(all))).toEqual(all);
    expect(encodeBase64(bytes(0xfb, 0xff))).toBe("+/8=");
    expect(encodeBase64("user:pass")).toBe("dXNlcjpwYXNz");
  });

  it("refuses what is not base64, and a missing padding unless it is optional", () => {
    for (const bad of ["a", "ab=", "a===", "ab!=", "-_8=", "é"]) expect(decodeBase64(bad), bad).toBeNull();
    expect(decodeBase64("+/8")).toBeNull();
    expect(decodeBase64("+/8", true)).toEqual(bytes(0xfb, 0xff));
    expect(decodeBase64("a", true)).toBeNull();
  });

  it("speaks unpadded base64url for Kubernetes' WebSocket bearer protocol", () => {
    expect(encodeBase64Url("\u00fb\u00ff")).toBe("w7vDvw");
    expect(new TextDecoder().decode(decodeBase64Url(encodeBase64Url("tok/en+?")) ?? undefined)).toBe("tok/en+?");
    expect(decodeBase64Url("w7vDvw==")).toEqual(new TextEncoder().encode("\u00fb\u00ff"));
  });
});
