/** vitest globalSetup: one real HTTP subscriber for the workerd test files, its URL provided to them. */
import type { TestProject } from "vitest/node";
import { startSubscriber } from "./subscriber.ts";

declare module "vitest" {
  export interface ProvidedContext {
    subscriberUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const sub = await startSubscriber();
  project.provide("subscriberUrl", sub.url);
  return () => sub.close();
}
