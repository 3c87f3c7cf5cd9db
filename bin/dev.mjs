#!/usr/bin/env node
// `npm run dev`: the router on wrangler dev with local SQLite-backed Durable Objects (.wrangler/state).
// Makes sure an admin token exists in .dev.vars (creating one on first run) and prints it.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const VARS = ".dev.vars";
const text = existsSync(VARS) ? readFileSync(VARS, "utf8") : "";
let token = /^ADMIN_TOKEN\s*=\s*"?([^"\n]+)"?/m.exec(text)?.[1];
if (!token) {
  token = randomBytes(24).toString("hex");
  writeFileSync(VARS, `${text}${text && !text.endsWith("\n") ? "\n" : ""}ADMIN_TOKEN="${token}"\n`);
}
const port = process.env.PORT ?? "8787";
console.log(`\nedge-eventing router: http://127.0.0.1:${port}`);
console.log(`admin token (from ${VARS}): ${token}`);
console.log(`  export EDGE_EVENTING_TOKEN=${token}\n`);

const child = spawn("wrangler", ["dev", "--ip", "127.0.0.1", "--port", port, "--test-scheduled", ...process.argv.slice(2)], { stdio: "inherit" });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code) => process.exit(code ?? 0));
