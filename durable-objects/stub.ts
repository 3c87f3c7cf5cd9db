/**
 * RPC stubs typed by the classes' own method signatures. The generated stub types turn results that
 * hold `unknown` (manifests, events) into `never`; every caller of a Durable Object uses this instead.
 */
export type Stub<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never };
