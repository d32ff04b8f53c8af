import { z } from "zod";
import { destinationKindEnum } from "@/db/schema";
import { operation } from "./operation";

export const usageOp = operation({
  id: "getUsage",
  method: "get",
  path: "/usage",
  tag: "Usage",
  summary: "Bytes stored per destination and storage class, and the monthly cost estimate",
  description:
    "What Storage → Usage and cost shows: every stored copy counted, priced from list prices per storage class " +
    "(or the destination's own), excluding requests, retrieval and transfer.",
  scope: "read",
  response: z
    .object({
      lines: z.array(
        z.object({
          destinationId: z.string(),
          name: z.string(),
          kind: z.enum(destinationKindEnum.enumValues),
          storageClass: z.string().nullable(),
          objects: z.number().int(),
          bytes: z.number().int(),
          pricePerGbMonth: z.number().meta({ description: "USD per GB-month; 0 when unknown." }),
          monthlyCost: z.number().meta({ description: "USD per month." }),
        }),
      ),
      bytes: z.number().int(),
      monthlyCost: z.number().meta({ description: "USD per month, all lines." }),
    })
    .meta({ id: "Usage" }),
});
