import ts from "typescript";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

export interface UnscopedQuery {
  file: string;
  line: number;
  fn: string;
  query: string;
}

/** The .ts files under `dir`, tests left out. */
export function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith(".ts") && !p.endsWith(".test.ts") ? [p] : [];
  });
}

const guarded = /\b(inTeam|ours)\(/; // ours() (lib/jobs/table) is inTeam plus the job's claim

/**
 * Every drizzle `select … from(t)`, `update(t)` and `delete(t)` whose table has a `teamId`
 * column (found by its type, so aliases and `schema.x` count) must carry the team condition in
 * the same statement: `inTeam(` (or `ours(`) somewhere in the chain. Only functions named
 * `…AllTeams` may query across teams. Inserts are left to the composite foreign keys.
 */
export function unscopedQueries(files: string[], root: string): UnscopedQuery[] {
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    baseUrl: root,
    paths: { "@/*": ["./*"] },
  });
  const checker = program.getTypeChecker();
  const isTeamTable = (node: ts.Expression) => {
    const type = checker.getTypeAtLocation(node);
    return !!type.getProperty("teamId") && !!type.getProperty("$inferSelect");
  };
  const found: UnscopedQuery[] = [];
  for (const file of files) {
    const source = program.getSourceFile(file);
    if (!source) continue;
    const visit = (node: ts.Node, fn: string) => {
      let name = fn;
      if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.name) name = node.name.getText();
      if (
        ts.isVariableDeclaration(node) &&
        node.initializer &&
        (ts.isArrowFunction(node.initializer) || ts.isFunctionExpression(node.initializer))
      )
        name = node.name.getText();
      if (
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression) &&
        ["from", "update", "delete"].includes(node.expression.name.text) &&
        node.arguments.length === 1 &&
        isTeamTable(node.arguments[0]!)
      ) {
        let chain: ts.Node = node;
        while (
          ts.isPropertyAccessExpression(chain.parent) ||
          (ts.isCallExpression(chain.parent) && chain.parent.expression === chain)
        )
          chain = chain.parent;
        if (!guarded.test(chain.getText()) && !name.endsWith("AllTeams")) {
          found.push({
            file: path.relative(root, file),
            line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1,
            fn: name || "(top level)",
            query: `${node.expression.name.text}(${node.arguments[0]!.getText()})`,
          });
        }
      }
      ts.forEachChild(node, (child) => visit(child, name));
    };
    visit(source, "");
  }
  return found;
}
