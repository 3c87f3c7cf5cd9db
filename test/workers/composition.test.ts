import { exports } from "cloudflare:workers";
import { inject } from "vitest";
import { compositionScenarios } from "../scenarios/composition.ts";

const sub = inject("subscriberUrl");
compositionScenarios({ fetch: (path, init) => exports.default.fetch(`http://router.test${path}`, init), subscriber: () => sub }, "comp");
