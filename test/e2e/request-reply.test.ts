import { requestReplyScenarios } from "../scenarios/request-reply.ts";
import { routerWithSubscriber } from "../support/router.ts";

const { router, subscriber } = routerWithSubscriber();

requestReplyScenarios({ fetch: (path, init) => fetch(`${router().url}${path}`, init), subscriber: () => subscriber().url }, "e2e-rr");
