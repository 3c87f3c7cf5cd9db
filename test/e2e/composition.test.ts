import { compositionScenarios } from "../scenarios/composition.ts";
import { routerWithSubscriber } from "../support/router.ts";

const { router, subscriber } = routerWithSubscriber();

compositionScenarios({ fetch: (path, init) => fetch(`${router().url}${path}`, init), subscriber: () => subscriber().url }, "e2e-comp");
