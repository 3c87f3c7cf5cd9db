import { describe, expect, it } from "vitest";
import { autoscale } from "../../../bin/cli/autoscale.ts";
import type { CliIO } from "../../../bin/cli/io.ts";
import { upstreamSpec } from "../../support/knative-decider.ts";

function io(files: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIO = {
    read: async (path) => {
      if (!(path in files)) throw new Error("ENOENT");
      return files[path];
    },
    files: async (path) => [path],
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  };
  return { cli, out, err };
}

const decider = upstreamSpec(10, 61);

describe("edge-eventing autoscale", () => {
  it("decide prints one result per observation (Knative's rate-limited scale-up)", async () => {
    const input = {
      decider,
      initialReadyPods: 1,
      observations: [
        { tSec: 0, readyPods: 1, observedStable: 1000, observedPanic: 1001 },
        { tSec: 2, readyPods: 10, observedStable: 1000, observedPanic: 1001 },
      ],
    };
    const { cli, out } = io({ "-": JSON.stringify(input) });
    expect(await autoscale(["decide", "--input", "-"], cli)).toBe(0);
    expect(JSON.parse(out.join(""))).toEqual([
      { tSec: 0, desiredPodCount: 10, excessBurstCapacity: -1049, valid: true, panic: true },
      { tSec: 2, desiredPodCount: 100, excessBurstCapacity: -929, valid: true, panic: true },
    ]);
  });

  it("decide names invalid fields and exits 1; bad usage exits 2", async () => {
    const { cli, err } = io({ "in.json": JSON.stringify({ decider: { ...decider, targetValue: 0 }, initialReadyPods: -1, observations: [{ tSec: "x" }] }) });
    expect(await autoscale(["decide", "--input", "in.json"], cli)).toBe(1);
    expect(err.join("")).toMatch(/decider.targetValue: must be >= 0.01\ninitialReadyPods: .*\nobservations\[0\].tSec: must be a number/);
    expect(await autoscale(["decide"], cli)).toBe(2);
    expect(await autoscale(["decide", "--input", "missing.json"], cli)).toBe(1);
  });

  it("simulate replays a trace through a ScaledObject (YAML) and plots the replica curve", async () => {
    const yaml = `
scaledObject:
  metadata: {annotations: {autoscaling.knative.dev/target: "10"}}
  spec:
    scaleTargetRef: {name: consumer}
    cluster: {url: https://k8s.example.com, secretKeyRef: {name: SECRET_K8S_TOKEN}}
    triggers: [{type: edge-eventing, metadata: {broker: default, trigger: orders, metric: rps}}]
initialReplicas: 1
podStartSec: 4
trace: [{tSec: 0, eventsPerSec: 7}, {tSec: 30, eventsPerSec: 70}, {tSec: 150, eventsPerSec: 0}]
durationSec: 400
`;
    const { cli, out } = io({ "t.yaml": yaml });
    expect(await autoscale(["simulate", "--input", "t.yaml", "--plot"], cli)).toBe(0);
    const text = out.join("");
    const rows = text
      .split("\n")
      .filter((l) => /^\d+\t/.test(l))
      .map((l) => l.split("\t"));
    const desired = rows.map((r) => Number(r[2]));
    expect(Math.max(...desired)).toBe(10); // 70 rps / (10 × 70 %)
    expect(desired.at(-1)).toBe(0); // scaled to zero after the burst
    expect(rows.some((r) => r[4] === "yes")).toBe(true); // the step up panics
    expect(text).toMatch(/# ready, \+ starting/);
  });

  it("simulate takes the ScaledObject from a manifest file (the one applied to the router) and the trace from --input", async () => {
    const manifest = `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: consumer}
spec:
  scaleTargetRef: {name: consumer}
  pollingInterval: 5
  maxReplicaCount: 8
  cluster: {url: https://k8s.example.com, secretKeyRef: {name: SECRET_K8S_TOKEN}}
  triggers: [{type: edge-eventing, metadata: {broker: default, trigger: orders, metric: backlog, target: "10"}}]
`;
    const { cli, out } = io({ "so.yaml": manifest, "trace.yaml": "trace: [{tSec: 0, value: 200}]\ndurationSec: 60\n" });
    expect(await autoscale(["simulate", "--input", "trace.yaml", "--scaled-object", "so.yaml"], cli)).toBe(0);
    const desired = out
      .join("")
      .split("\n")
      .filter((l) => /^\d+\t/.test(l))
      .map((l) => Number(l.split("\t")[2]));
    expect(Math.max(...desired)).toBe(8); // ceil(200 / 10) capped at maxReplicaCount

    const bad = io({ "two.yaml": `${manifest}---\n${manifest}`, "trace.yaml": "trace: [{tSec: 0, value: 1}]" });
    expect(await autoscale(["simulate", "--input", "trace.yaml", "--scaled-object", "two.yaml"], bad.cli)).toBe(1);
    expect(bad.err.join("")).toMatch(/cannot read two.yaml: expected exactly one document of kind ScaledObject, found 2/);
    expect(await autoscale(["simulate", "--input", "trace.yaml", "--scaled-object"], bad.cli)).toBe(2);
  });

  it("simulate reports ScaledObject errors by field", async () => {
    const { cli, err } = io({ "s.json": JSON.stringify({ scaledObject: { spec: { triggers: [] } }, trace: [{ tSec: 0, eventsPerSec: 1 }] }) });
    expect(await autoscale(["simulate", "--input", "s.json"], cli)).toBe(1);
    expect(err.join("")).toMatch(/scaledObject.spec.triggers: must list/);
  });
});
