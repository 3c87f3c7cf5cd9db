import { describe, expect, it } from "vitest";
import { isSecretName, SECRET_NAME_RULE, secretReader } from "../../shared/secrets.ts";

describe("Worker secrets named by manifests", () => {
  it("allows only the documented SECRET_ prefix", () => {
    for (const name of ["SECRET_GITHUB_WEBHOOK", "SECRET_a1", "SECRET__X"]) expect(isSecretName(name), name).toBe(true);
    for (const name of ["ADMIN_TOKEN", "DOMAIN", "PUBLIC_URL", "SECRET_", "secret_x", "SECRET_X-Y", "SECRET_X Y", "", 42, undefined])
      expect(isSecretName(name), String(name)).toBe(false);
    expect(SECRET_NAME_RULE).toMatch(/starts with SECRET_/);
  });

  it("reads a set secret, and refuses an unset, empty or unprefixed one naming the field", () => {
    const read = secretReader({ SECRET_A: "a", SECRET_EMPTY: "", SECRET_NUMBER: 7, ADMIN_TOKEN: "admin", DOMAIN: "example.com" });
    expect(read("SECRET_A", "spec.token.secretKeyRef.name")).toBe("a");
    expect(() => read("SECRET_EMPTY", "spec.token.secretKeyRef.name")).toThrow(
      "spec.token.secretKeyRef.name: Worker secret SECRET_EMPTY is not set (wrangler secret put SECRET_EMPTY)",
    );
    expect(() => read("SECRET_NUMBER", "f")).toThrow(/SECRET_NUMBER is not set/);
    expect(() => read("SECRET_MISSING", "f")).toThrow(/SECRET_MISSING is not set/);
    // Set, but the router's own: never handed out, whatever a stored configuration says.
    expect(() => read("ADMIN_TOKEN", "spec.token.secretKeyRef.name")).toThrow(
      /spec.token.secretKeyRef.name: ADMIN_TOKEN must name a Worker secret whose name starts with SECRET_/,
    );
    expect(() => read("DOMAIN", "f")).toThrow(/DOMAIN must name/);
  });
});
