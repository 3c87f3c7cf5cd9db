/**
 * Command dispatch for `npx edge-eventing <command> ...`. Returns the process exit code:
 * 0 done, 1 the API refused or could not be reached (its Status is printed), 2 wrong usage.
 */
import { ApiError, describeError } from "./api.ts";
import { DEFAULT_SERVER, UsageError } from "./args.ts";
import { type Cli, type Command, nodeCli } from "./io.ts";

/** Loaded on use, so one command's imports (the autoscaling maths, the CloudEvents codec) never slow another. */
const commands: Record<string, () => Promise<Command>> = {
  apply: async () => (await import("./apply.ts")).apply,
  get: async () => (await import("./get.ts")).get,
  describe: async () => (await import("./describe.ts")).describe,
  delete: async () => (await import("./delete.ts")).del,
  send: async () => (await import("./send.ts")).send,
  tail: async () => (await import("./tail.ts")).tail,
  review: async () => (await import("./review.ts")).review,
  events: async () => (await import("./events.ts")).events,
  replay: async () => (await import("./replay.ts")).replay,
  pause: async () => (await import("./pause.ts")).pause,
  resume: async () => (await import("./pause.ts")).resume,
  autoscale: async () => ({
    usage: "autoscale decide|simulate --input FILE [--plot]",
    run: async (args, cli) => (await import("./autoscale.ts")).autoscale(args, cli.io),
  }),
};

async function usage(): Promise<string> {
  const lines = await Promise.all(Object.values(commands).map(async (load) => usageOf(await load())));
  return `usage:
${lines.join("")}
context: --server/-s URL or EDGE_EVENTING_SERVER (default ${DEFAULT_SERVER}), --token or EDGE_EVENTING_TOKEN, -n NAMESPACE (default "default")
exit codes: 0 done, 1 the API refused or was unreachable (or a reviewed expression does not parse), 2 wrong usage (docs/OPERATIONS.md)
`;
}

export async function main(argv: string[], cli: Cli = nodeCli()): Promise<number> {
  const [name, ...rest] = argv;
  const load = name === undefined ? undefined : commands[name];
  if (!load) {
    const asked = name === undefined || name === "help" || name === "--help" || name === "-h";
    cli.io.err(`${asked ? "" : `error: unknown command ${JSON.stringify(name)}\n`}${await usage()}`);
    return asked ? 0 : 2;
  }
  const command = await load();
  if (rest.includes("--help") || rest.includes("-h")) {
    cli.io.out(`usage:\n${usageOf(command)}`);
    return 0;
  }
  try {
    return await command.run(rest, cli);
  } catch (e) {
    if (e instanceof UsageError) {
      cli.io.err(`error: ${e.message}\nusage:\n${usageOf(command)}`);
      return 2;
    }
    if (e instanceof ApiError) {
      cli.io.err(describeError(e));
      return 1;
    }
    throw e;
  }
}

const usageOf = (c: Command) =>
  c.usage
    .split("\n")
    .map((line) => `  edge-eventing ${line}\n`)
    .join("");
