import { describe, expect, it } from "vitest";
import { renderRefusalMetrics } from "../../../shared/metrics/prometheus.ts";

describe("EventPolicy refusals in Prometheus text", () => {
  it("is one counter family with namespace, broker and code labels", () => {
    const text = renderRefusalMetrics([
      { namespace: "ci", broker: "deployments", code: 401, value: 7 },
      { namespace: "ci", broker: "deployments", code: 403, value: 2 },
    ]);
    expect(text.split("\n")).toEqual([
      expect.stringMatching(/^# HELP edge_eventing_ingress_refused_total /),
      "# TYPE edge_eventing_ingress_refused_total counter",
      'edge_eventing_ingress_refused_total{namespace="ci",broker="deployments",code="401"} 7',
      'edge_eventing_ingress_refused_total{namespace="ci",broker="deployments",code="403"} 2',
      "",
    ]);
  });
});
