/**
 * Worker secrets that manifests name (`secretKeyRef: {name}`, the ingress-token annotation). Only names with
 * the documented prefix may be named, so no manifest can make the router send its own secrets (ADMIN_TOKEN)
 * or vars anywhere; the validation refuses other names with a 422, and reading refuses them again for
 * configurations stored before the rule existed.
 */

export const SECRET_PREFIX = "SECRET_";
const SECRET_NAME = /^SECRET_[A-Za-z0-9_]+$/;

/** The 422 cause's message for a name that breaks the rule. */
export const SECRET_NAME_RULE = `must name a Worker secret whose name starts with ${SECRET_PREFIX} (then letters, digits, _), e.g. ${SECRET_PREFIX}GITHUB_WEBHOOK: the router's own secrets and vars cannot be named`;

export function isSecretName(name: unknown): name is string {
  return typeof name === "string" && SECRET_NAME.test(name);
}

/** A secret's value by name, for the manifest field `field`; throws naming both when it cannot be read. */
export type SecretReader = (name: string, field: string) => string;

/** Reads from the Worker's env; an empty value is not set. */
export function secretReader(env: object): SecretReader {
  return (name, field) => {
    if (!isSecretName(name)) throw new Error(`${field}: ${name} ${SECRET_NAME_RULE}`);
    const value = (env as Record<string, unknown>)[name];
    if (typeof value !== "string" || value === "") throw new Error(`${field}: Worker secret ${name} is not set (wrangler secret put ${name})`);
    return value;
  };
}
