import { workflowEndpoint } from "@/lib/workflows/endpoint";

// The endpoint an Inngest server (dev server, self-hosted or Cloud) calls to run the workflows.
export const runtime = "nodejs";
export const dynamic = "force-dynamic";
export const maxDuration = 300;

export const GET = workflowEndpoint("GET");
export const POST = workflowEndpoint("POST");
export const PUT = workflowEndpoint("PUT");
