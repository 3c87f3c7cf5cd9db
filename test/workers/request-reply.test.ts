import { exports } from "cloudflare:workers";
import { inject } from "vitest";
import { requestReplyScenarios } from "../scenarios/request-reply.ts";

const sub = inject("subscriberUrl");
const fetchRouter = (path: string, init?: RequestInit) => exports.default.fetch(`http://router.test${path}`, init);
requestReplyScenarios({ fetch: fetchRouter, subscriber: () => sub }, "rr");
