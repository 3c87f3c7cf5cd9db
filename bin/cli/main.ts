/** Command dispatch for `npx edge-eventing <command> ...`. Returns the process exit code. */
type Command = (args: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  autoscale: async () => (await import("./autoscale.ts")).autoscale,
};

const usage = `usage: edge-eventing <command> [args]
commands: ${Object.keys(commands).join(", ")}`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const load = name ? commands[name] : undefined;
  if (!load) {
    process.stderr.write(`${usage}\n`);
    return name === undefined || name === "help" || name === "--help" ? 0 : 2;
  }
  return (await load())(rest);
}
