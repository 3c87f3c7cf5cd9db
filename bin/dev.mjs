#!/usr/bin/env node
// `npm run dev`: the router on wrangler dev with local SQLite-backed Durable Objects (.wrangler/state).
// Makes sure an admin token and the RequestReply signing secret exist in .dev.vars (creating them on first
// run) and prints the token.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const VARS = ".dev.vars";
/** The value of `name` in .dev.vars, written with a random one when missing. */
function ensureVar(name) {
  const text = existsSync(VARS) ? readFileSync(VARS, "utf8") : "";
  const found = new RegExp(`^${name}\\s*=\\s*"?([^"\\n]+)"?`, "m").exec(text)?.[1];
  if (found) return found;
  const value = randomBytes(24).toString("hex");
  writeFileSync(VARS, `${text}${text && !text.endsWith("\n") ? "\n" : ""}${name}="${value}"\n`);
  return value;
}
const token = ensureVar("ADMIN_TOKEN");
ensureVar("REQUEST_REPLY_SECRET");
const port = process.env.PORT ?? "8787";
console.log(`\nedge-eventing router: http://127.0.0.1:${port}`);
console.log(`admin token (from ${VARS}): ${token}`);
console.log(`  export EDGE_EVENTING_TOKEN=${token}\n`);

const child = spawn("wrangler", ["dev", "--ip", "127.0.0.1", "--port", port, "--test-scheduled", ...process.argv.slice(2)], { stdio: "inherit" });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code) => process.exit(code ?? 0));
