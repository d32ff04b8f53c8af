import { serve } from "inngest/next";
import { inngest } from "@/inngest/client";
import { functions } from "@/inngest/functions";

// The endpoint an Inngest server (dev server, self-hosted or Cloud) calls to run the workflows.
export const runtime = "nodejs";
export const dynamic = "force-dynamic";
export const maxDuration = 300;

export const { GET, POST, PUT } = serve({ client: inngest, functions });
