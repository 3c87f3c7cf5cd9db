/**
 * vitest globalSetup: the local OIDC issuer (test/support/oidc-issuer.ts) for the workerd test files, on the
 * port vitest.config.ts chose, because the Worker variable OIDC_ISSUERS must name it before workerd starts.
 */
import type { TestProject } from "vitest/node";
import { OidcIssuer } from "./oidc-issuer.ts";

declare module "vitest" {
  export interface ProvidedContext {
    oidcUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const issuer = await new OidcIssuer().start(Number(process.env.EDGE_EVENTING_OIDC_PORT));
  project.provide("oidcUrl", issuer.url);
  return () => issuer.close();
}
