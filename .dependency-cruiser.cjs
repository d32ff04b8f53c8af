/**
 * Import boundaries (STYLE.md): arrows point one way, app → lib → db and inngest → lib → db, with no
 * cycles. `npm run lint` runs this; lib/lint-rules.int.test.ts proves each rule fails when broken.
 */
module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      severity: "error",
      comment: "An import cycle ties modules together so that neither can change alone.",
      from: {},
      to: { circular: true },
    },
    {
      name: "app-only-through-lib",
      severity: "error",
      comment:
        "app/ reaches the database and the workflows only through lib/ (the Inngest serve route mounts the functions).",
      from: { path: "^app/" },
      to: { path: "^(db|inngest)/" },
    },
    {
      name: "inngest-not-db",
      severity: "error",
      comment: "Workflows are orchestration: they call lib/, never db/ directly.",
      from: { path: "^inngest/" },
      to: { path: "^db/" },
    },
    {
      name: "lib-not-up",
      severity: "error",
      comment: "lib/ is the domain; it never imports the routes (app/) or the workflow engine (inngest/).",
      from: { path: "^lib/", pathNot: "\\.test\\.ts$" },
      to: { path: "^(app|inngest)/" },
    },
    {
      name: "db-is-the-floor",
      severity: "error",
      comment: "db/ holds the schema and client; it imports nothing of the app above it.",
      from: { path: "^db/" },
      to: { path: "^(app|lib|inngest)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|\\.next|\\.data|test-results|playwright-report)/" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
  },
};
