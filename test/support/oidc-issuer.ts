/**
 * A local OpenID Connect issuer of our own, over real HTTP: several issuers on one server, each under its
 * own path (`{url}/{name}`) with a discovery document and a JWKS of RS256 and ES256 keys, rotation, and
 * a switch that makes its JWKS fail. Tests in workerd cannot reach this object, so it also answers a
 * control API (JSON bodies):
 *   POST /control/token  {issuer, alg?: "RS256"|"ES256", kid?, claims, header?} -> {token} (header: null drops a member)
 *   POST /control/rotate {issuer, alg?}         -> {kid}: a new key, published and used from now on
 *   POST /control/break  {issuer, broken}       -> the issuer's JWKS answers 500 while broken
 *   GET  /control/fetches?issuer=NAME           -> {discovery, jwks}: how often each was fetched
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

type Alg = "RS256" | "ES256";
interface Key {
  kid: string;
  alg: Alg;
  privateKey: CryptoKey;
  jwk: JWK;
}
interface Issuer {
  keys: Key[];
  broken: boolean;
  fetches: { discovery: number; jwks: number };
}

export interface TokenRequest {
  issuer: string;
  alg?: Alg;
  kid?: string;
  claims: JWTPayload;
  /** Overrides of the protected header (a test's wrong `kid`, a `crit`); null leaves a member out (no `kid`). */
  header?: Record<string, unknown>;
}

export class OidcIssuer {
  url = "";
  private server: Server | null = null;
  private readonly issuers = new Map<string, Issuer>();
  private counter = 0;

  /** The `iss` of the issuer `name`. */
  issuerUrl(name: string): string {
    return `${this.url}/${name}`;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req)
        .then(({ status, body }) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body)))
        .catch((e) => res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: (e as Error).message })));
    });
    await new Promise<void>((ok) => this.server!.listen(port, "127.0.0.1", ok));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }

  /** A signed token from `issuer` (its newest key of `alg`, or the key `kid`). */
  async token(req: TokenRequest): Promise<string> {
    const issuer = await this.issuer(req.issuer);
    const alg = req.alg ?? "RS256";
    const key = req.kid ? issuer.keys.find((k) => k.kid === req.kid) : [...issuer.keys].reverse().find((k) => k.alg === alg);
    if (!key) throw new Error(`issuer ${req.issuer} has no such key`);
    const header: Record<string, unknown> = { alg: key.alg, kid: key.kid, typ: "JWT", ...req.header };
    for (const name of Object.keys(header)) if (header[name] === null) delete header[name];
    // jose signs a `crit` header only when told its extensions are understood (a verifier must refuse them).
    const crit = Array.isArray(header.crit) ? { crit: Object.fromEntries(header.crit.map((name: string) => [name, true])) } : undefined;
    return new SignJWT(req.claims).setProtectedHeader(header as { alg: string }).sign(key.privateKey, crit);
  }

  /** Publish a new key and sign with it from now on; the old ones stay published. */
  async rotate(name: string, alg: Alg = "RS256"): Promise<string> {
    const issuer = await this.issuer(name);
    const key = await this.newKey(alg);
    issuer.keys.push(key);
    return key.kid;
  }

  async setBroken(name: string, broken: boolean): Promise<void> {
    (await this.issuer(name)).broken = broken;
  }

  async fetches(name: string): Promise<{ discovery: number; jwks: number }> {
    return { ...(await this.issuer(name)).fetches };
  }

  private async issuer(name: string): Promise<Issuer> {
    let issuer = this.issuers.get(name);
    if (!issuer) {
      issuer = { keys: [await this.newKey("RS256"), await this.newKey("ES256")], broken: false, fetches: { discovery: 0, jwks: 0 } };
      this.issuers.set(name, issuer);
    }
    return issuer;
  }

  private async newKey(alg: Alg): Promise<Key> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = `key-${++this.counter}-${alg.toLowerCase()}`;
    return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const url = new URL(req.url ?? "/", this.url);
    if (url.pathname.startsWith("/control/")) return this.control(req, url);
    const m = /^\/([\w-]+)\/(\.well-known\/openid-configuration|jwks)$/.exec(url.pathname);
    if (!m || req.method !== "GET") return { status: 404, body: { error: "not found" } };
    const [, name, what] = m;
    const issuer = await this.issuer(name);
    if (what === "jwks") {
      issuer.fetches.jwks++;
      return issuer.broken ? { status: 500, body: { error: "the key service is down" } } : { status: 200, body: { keys: issuer.keys.map((k) => k.jwk) } };
    }
    issuer.fetches.discovery++;
    const iss = this.issuerUrl(name);
    return {
      status: 200,
      body: {
        issuer: iss,
        jwks_uri: `${iss}/jwks`,
        response_types_supported: ["id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256", "ES256"],
      },
    };
  }

  private async control(req: IncomingMessage, url: URL): Promise<{ status: number; body: unknown }> {
    if (req.method === "GET" && url.pathname === "/control/fetches") return { status: 200, body: await this.fetches(url.searchParams.get("issuer") ?? "") };
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    switch (url.pathname) {
      case "/control/token":
        return { status: 200, body: { token: await this.token(body) } };
      case "/control/rotate":
        return { status: 200, body: { kid: await this.rotate(body.issuer, body.alg) } };
      case "/control/break":
        await this.setBroken(body.issuer, body.broken);
        return { status: 204, body: null };
      default:
        return { status: 404, body: { error: "no such control call" } };
    }
  }
}

/** The control API from anywhere that can make HTTP requests (the workerd tests). */
export function issuerClient(url: string) {
  const call = async (path: string, body?: unknown) => {
    const r = await fetch(
      `${url}${path}`,
      body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
    );
    if (!r.ok) throw new Error(`issuer control ${path}: ${r.status} ${await r.text()}`);
    return r.status === 204 ? null : r.json();
  };
  return {
    issuerUrl: (name: string) => `${url}/${name}`,
    token: async (req: TokenRequest): Promise<string> => ((await call("/control/token", req)) as { token: string }).token,
    rotate: async (issuer: string, alg?: Alg): Promise<string> => ((await call("/control/rotate", { issuer, alg })) as { kid: string }).kid,
    setBroken: async (issuer: string, broken: boolean) => void (await call("/control/break", { issuer, broken })),
    fetches: async (issuer: string) => (await call(`/control/fetches?issuer=${issuer}`)) as { discovery: number; jwks: number },
  };
}
