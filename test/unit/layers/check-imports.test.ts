import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { importProblems } from "../../../bin/check-imports.ts";

let root: string | null = null;

/** A tree of source files, path -> text, in a fresh directory. */
function tree(files: Record<string, string>): string {
  root = mkdtempSync(join(tmpdir(), "check-imports-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = null;
});

describe("bin/check-imports.ts", () => {
  it("finds no problem in the repository itself", () => {
    expect(importProblems(".")).toEqual([]);
  });

  it("refuses an import out of shared/, run-time or type-only, and a platform module there", () => {
    const problems = importProblems(
      tree({
        "shared/a.ts":
          'import { w } from "../workers/w.ts";\nimport type { C } from "../clients/c.ts";\nimport { env } from "cloudflare:workers";\nexport const a = [w, env];\nexport type A = C;\n',
        "shared/b.ts": 'import { a } from "./a.ts";\nimport { parse } from "yaml";\nexport const b = [a, parse];\n',
        "workers/w.ts": "export const w = 1;\n",
        "clients/c.ts": "export type C = number;\n",
      }),
    );
    expect(problems).toEqual([
      "shared/a.ts imports workers/w.ts: shared/ imports only shared/",
      "shared/a.ts imports clients/c.ts: shared/ imports only shared/",
      "shared/a.ts imports cloudflare:workers: shared/ imports only shared/",
    ]);
  });

  it("refuses durable-objects/ -> workers/ and clients/ -> an object's class, but not workers/ -> anything", () => {
    const problems = importProblems(
      tree({
        "durable-objects/d.ts": 'import type { W } from "../workers/w.ts";\nexport class D {}\nexport type X = W;\n',
        "clients/c.ts": 'import type { D } from "../durable-objects/d.ts";\nexport type C = D;\n',
        "workers/w.ts":
          'import { D } from "../durable-objects/d.ts";\nimport type { C } from "../clients/c.ts";\nexport type W = C;\nexport const w = new D();\n',
      }),
    );
    expect(problems).toEqual([
      "clients/c.ts imports durable-objects/d.ts: clients/ imports only clients/ and shared/",
      "durable-objects/d.ts imports workers/w.ts: durable-objects/ never imports workers/",
    ]);
  });

  it("reports a run-time cycle once, through re-exports and dynamic imports too, and not one closed by a type-only import", () => {
    const problems = importProblems(
      tree({
        "shared/x.ts": 'import { y } from "./y.ts";\nexport const x = () => y;\n',
        "shared/y.ts": 'export { z as y } from "./z.ts";\n',
        "shared/z.ts": 'export const z = async () => (await import("./x.ts")).x;\n',
        "shared/p.ts": 'import type { Q } from "./q.ts";\nexport const p = (q: Q) => q;\n',
        "shared/q.ts": 'import { p } from "./p.ts";\nexport type Q = number;\nexport const q = p;\n',
      }),
    );
    expect(problems).toEqual(["run-time import cycle: shared/x.ts -> shared/y.ts -> shared/z.ts -> shared/x.ts"]);
  });

  it("counts `import { type A }` as a run-time import: the module is still loaded", () => {
    const problems = importProblems(
      tree({
        "shared/p.ts": 'import { type Q } from "./q.ts";\nexport const p = (q: Q) => q;\n',
        "shared/q.ts": 'import { p } from "./p.ts";\nexport type Q = number;\nexport const q = p;\n',
      }),
    );
    expect(problems).toEqual(["run-time import cycle: shared/p.ts -> shared/q.ts -> shared/p.ts"]);
  });
});
