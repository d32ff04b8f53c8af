export async function register() {
  // Only the Node.js server runtime holds the database and keys; the edge runtime has neither.
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { start } = await import("./lib/startup");
    await start();
    const { startWorkflows } = await import("./inngest/start");
    await startWorkflows();
  }
}
