import { deliveryScenarios } from "../scenarios/delivery.ts";
import { routerWithSubscriber } from "../support/router.ts";

const { router, subscriber } = routerWithSubscriber();

deliveryScenarios({ fetch: (path, init) => fetch(`${router().url}${path}`, init), subscriber: () => subscriber().url }, "e2e");
