/**
 * Where Knative's composition kinds (EventTransform, Sequence, Parallel) take events: each has a channel,
 * one of the router's broker objects named `{kind}:{name}` (':' keeps it apart from every Broker), and a
 * public address `/{plural}/{namespace}/{name}` that ingests into that channel as a broker's ingress does.
 */
import type { Target } from "./destination.ts";

/** The kinds with an address, and the first path segment of their address. */
export const COMPOSITION_PATHS = { EventTransform: "eventtransforms", Sequence: "sequences", Parallel: "parallels" } as const;
export type CompositionKind = keyof typeof COMPOSITION_PATHS;

/** A compiled EventTransform as the delivering broker object runs it. */
export interface TransformSpec {
  expression: string;
  /** Where the transformed event goes; without one it is the reply. */
  sink?: Target;
  /** What comes back from the sink: its reply reshaped, or nothing. */
  reply?: { expression: string } | { discard: true };
}

/** The channel that a composition's address ingests into. */
export function addressChannel(kind: CompositionKind, name: string): string {
  return `${kind.toLowerCase()}:${name}`;
}

/** The address path of a composition, without the base URL. */
export function addressPath(kind: CompositionKind, namespace: string, name: string): string {
  return `${COMPOSITION_PATHS[kind]}/${namespace}/${name}`;
}

export function compositionOfPath(segment: string): CompositionKind | undefined {
  return (Object.keys(COMPOSITION_PATHS) as CompositionKind[]).find((k) => COMPOSITION_PATHS[k] === segment);
}

/** The composition whose address channel this is (internal channels of a flow are not addresses). */
export function compositionOfChannel(channel: string): { kind: CompositionKind; name: string } | undefined {
  const [prefix, name, ...rest] = channel.split(":");
  const kind = (Object.keys(COMPOSITION_PATHS) as CompositionKind[]).find((k) => k.toLowerCase() === prefix);
  return kind && name && rest.length === 0 ? { kind, name } : undefined;
}
