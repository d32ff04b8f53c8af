import { serve } from "inngest/next";
import { inngest } from "@/inngest/client";
import { functions } from "@/inngest/functions";
import { env } from "@/lib/env";

// The endpoint an Inngest server (dev server, self-hosted or Cloud) calls to run the workflows.
export const runtime = "nodejs";
export const dynamic = "force-dynamic";
export const maxDuration = 300;

const handlers = serve({ client: inngest, functions });
// With no Inngest server configured the functions run in-process and this endpoint does not exist:
// the client is in dev mode then, and would run a function for anyone who called it.
const served =
  <A extends unknown[]>(handler: (...args: A) => Promise<Response>) =>
  (...args: A): Promise<Response> =>
    env().workflows === "inngest" ? handler(...args) : Promise.resolve(new Response("Not found", { status: 404 }));

export const GET = served(handlers.GET);
export const POST = served(handlers.POST);
export const PUT = served(handlers.PUT);
