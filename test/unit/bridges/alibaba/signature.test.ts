import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { aliyunAuthorization, aliyunStringToSign, MNS_SIGNING, ROCKETMQ_SIGNING } from "../../../../shared/bridges/alibaba/signature.ts";

interface Vector {
  name: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  accessKeyId: string;
  accessKeySecret: string;
  stringToSign: string;
  expectedAuthorization: string;
}

const load = (file: string): Vector[] => JSON.parse(readFileSync(new URL(`../../../fixtures/signing/${file}`, import.meta.url), "utf8"));

describe.each([
  ["rocketmq-http-sign.json", ROCKETMQ_SIGNING],
  ["mns-sign.json", MNS_SIGNING],
] as const)("%s", (file, scheme) => {
  const vectors = load(file);

  it("has vectors", () => expect(vectors.length).toBeGreaterThan(2));

  it.each(vectors.map((v) => [v.name, v] as const))("%s", async (_name, v) => {
    expect(aliyunStringToSign(scheme, v.method, v.path, v.headers)).toBe(v.stringToSign);
    expect(await aliyunAuthorization(scheme, v, v.method, v.path, v.headers)).toBe(v.expectedAuthorization);
  });
});

describe("aliyunStringToSign", () => {
  it("signs only the scheme's own headers, sorted, whatever their case", () => {
    const s = aliyunStringToSign(MNS_SIGNING, "GET", "/q", {
      "X-MNS-Version": "2015-06-06",
      "x-mns-date": "d",
      "x-mq-version": "no",
      Date: "D",
      "Security-Token": "t",
    });
    expect(s).toBe("GET\n\n\nD\nx-mns-date:d\nx-mns-version:2015-06-06\n/q");
  });
});
