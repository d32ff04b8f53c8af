"use server";
import { z } from "zod";
import { setDestinationPrices } from "@/lib/retention/usage";
import { createDestination, deleteDestination, updateDestination } from "@/lib/destinations/mutations";
import { createDestinationSchema, destinationRefSchema, updateDestinationSchema } from "@/lib/destinations/schemas";
import { testDestination } from "@/lib/destinations/use";
import { takeBackBackups, takeBackSchema } from "@/lib/catalogue/take-back";
import { savedThenTested } from "@/lib/check-result";
import { teamAction } from "@/lib/web/action";

// Each save runs the destination's test too: one that fails it is kept, and its failure shows on it.
export const createDestinationAction = teamAction(createDestinationSchema, "admin", (t, i) =>
  savedThenTested(createDestination(t, i), (id) => testDestination(t, id)),
);
export const updateDestinationAction = teamAction(updateDestinationSchema, "admin", (t, i) =>
  savedThenTested(updateDestination(t, i), (id) => testDestination(t, id)),
);
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
