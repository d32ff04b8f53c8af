import { z } from "zod";

export const trashDaysSchema = z.object({
  days: z.coerce
    .number()
    .int("Use a whole number of days.")
    .min(1, "Keep removed backups at least 1 day.")
    .max(365, "Use at most 365 days."),
});
