"use server";
import { z } from "zod";
import { setDestinationPrices } from "@/lib/retention/usage";
import { createDestination, deleteDestination, updateDestination } from "@/lib/destinations/mutations";
import { createDestinationSchema, destinationRefSchema, updateDestinationSchema } from "@/lib/destinations/schemas";
import { testDestination } from "@/lib/destinations/use";
import { takeBackBackups, takeBackSchema } from "@/lib/catalogue/take-back";
import { teamAction } from "@/lib/web/action";

export const createDestinationAction = teamAction(createDestinationSchema, "admin", createDestination);
export const updateDestinationAction = teamAction(updateDestinationSchema, "admin", updateDestination);
export const deleteDestinationAction = teamAction(destinationRefSchema, "admin", (t, i) =>
  deleteDestination(t, i.destinationId),
);
export const testDestinationAction = teamAction(destinationRefSchema, "member", (t, i) =>
  testDestination(t, i.destinationId),
);
export const setPricesAction = teamAction(
  destinationRefSchema.extend({ prices: z.string().max(2000) }),
  "admin",
  (t, i) => setDestinationPrices(t, i.destinationId, i.prices),
);
export const takeBackBackupsAction = teamAction(takeBackSchema, "admin", (t, i) => takeBackBackups(t, i));
