import { afterAll, beforeAll } from "vitest";
import { deliveryScenarios } from "../scenarios/delivery.ts";
import { type RunningRouter, startRouter } from "../support/router.ts";
import { type Subscriber, startSubscriber } from "../support/subscriber.ts";

let router: RunningRouter;
let sub: Subscriber;

beforeAll(async () => {
  [router, sub] = await Promise.all([startRouter(), startSubscriber()]);
});
afterAll(async () => {
  await Promise.all([router?.stop(), sub?.close()]);
});

deliveryScenarios({ fetch: (path, init) => fetch(`${router.url}${path}`, init), subscriber: () => sub.url }, "e2e");
