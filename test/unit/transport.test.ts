import { describe, expect, it } from "vitest";
import { isSecureEndpoint } from "../../shared/transport.ts";

describe("endpoints that may receive credentials", () => {
  it("takes https anywhere and plain http only on this machine", () => {
    for (const url of [
      "https://bridge.example",
      "https://10.0.0.7:8443/x",
      "http://localhost:8082",
      "http://127.0.0.1:1",
      "http://127.9.8.7",
      "http://[::1]:6379",
    ])
      expect(isSecureEndpoint(url), url).toBe(true);
    for (const url of [
      "http://bridge.example",
      "http://10.0.0.7",
      "http://localhost.attacker.example",
      "http://127.0.0.1.nip.io",
      "http://[::2]",
      "ftp://localhost",
      "redis://127.0.0.1",
      "not a url",
      "",
      42,
      undefined,
    ]) {
      expect(isSecureEndpoint(url), String(url)).toBe(false);
    }
  });
});
