/**
 * The layers' import rules, checked by `npm test` (docs/ARCHITECTURE.md, "The layers"): imports run
 * downwards, workers -> durable-objects -> clients -> shared, and no file loads itself again through a
 * chain of run-time imports. Type-only imports (`import type`, `export type`) are erased before anything
 * runs, so they may point anywhere but upwards out of shared/; an `import { type A }` is a run-time import
 * (verbatimModuleSyntax keeps it as `import "..."`). Usage: node bin/check-imports.ts [root]
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/** The folders whose files are checked (tests may reach into any layer). */
const SOURCES = ["workers", "durable-objects", "clients", "shared", "bin", "bench"];
const EXTENSIONS = [".ts", ".mts", ".js", ".mjs"];

/**
 * What a file of a layer may import, run-time or type-only: `shared/` is pure and self-contained (no
 * platform module either); `clients/` reaches objects through their contracts only; objects never call
 * back into the Hono apps (the caller decides: admission, authentication).
 */
interface Rule {
  from: string;
  allows: (file: string) => boolean;
  platform?: RegExp;
  why: string;
}

const RULES: Rule[] = [
  { from: "shared/", allows: (file) => file.startsWith("shared/"), platform: /^(cloudflare|node):/, why: "shared/ imports only shared/" },
  { from: "clients/", allows: (file) => file.startsWith("clients/") || file.startsWith("shared/"), why: "clients/ imports only clients/ and shared/" },
  { from: "durable-objects/", allows: (file) => !file.startsWith("workers/"), why: "durable-objects/ never imports workers/" },
];

/** Every import of a file: its specifier and whether it is erased (type-only). */
export function importsOf(path: string, text: string): { specifier: string; typeOnly: boolean }[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, false);
  const out: { specifier: string; typeOnly: boolean }[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly = ts.isImportDeclaration(node) ? !!node.importClause?.isTypeOnly : node.isTypeOnly;
      out.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      out.push({ specifier: node.arguments[0].text, typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function sourceFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (EXTENSIONS.some((e) => name.endsWith(e)) && !name.endsWith(".d.ts")) files.push(path);
    }
  };
  for (const dir of SOURCES) if (statSync(join(root, dir), { throwIfNoEntry: false })?.isDirectory()) walk(join(root, dir));
  return files.sort();
}

/** The file a relative specifier names, as a path from the root (null: a package, or not a file of the tree). */
function resolveSpecifier(root: string, from: string, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null;
  const base = resolve(dirname(join(root, from)), specifier);
  for (const candidate of [base, ...EXTENSIONS.map((e) => base + e), ...EXTENSIONS.map((e) => join(base, `index${e}`))]) {
    if (statSync(candidate, { throwIfNoEntry: false })?.isFile()) return relative(root, candidate).split(sep).join("/");
  }
  return null;
}

/** Every import against the layers' direction, and every run-time import cycle, as readable lines. */
export function importProblems(root: string): string[] {
  const graph = new Map<string, string[]>();
  const problems: string[] = [];
  for (const path of sourceFiles(root)) {
    const file = relative(root, path).split(sep).join("/");
    const runtime: string[] = [];
    for (const { specifier, typeOnly } of importsOf(file, readFileSync(path, "utf8"))) {
      const target = resolveSpecifier(root, file, specifier);
      for (const rule of RULES) {
        if (!file.startsWith(rule.from)) continue;
        const against = target ? !rule.allows(target) : specifier.startsWith(".") || !!rule.platform?.test(specifier);
        if (against) problems.push(`${file} imports ${target ?? specifier}: ${rule.why}`);
      }
      if (target && !typeOnly) runtime.push(target);
    }
    graph.set(file, runtime);
  }
  for (const cycle of cycles(graph)) problems.push(`run-time import cycle: ${[...cycle, cycle[0]].join(" -> ")}`);
  return problems;
}

/** The cycles of the graph: one per strongly connected component of more than one file (or a self-import). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.reverse());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);
  return found;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = importProblems(resolve(process.argv[2] ?? "."));
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`${problems.length} import problem${problems.length === 1 ? "" : "s"} (docs/ARCHITECTURE.md, "The layers")`);
    process.exit(1);
  }
}
