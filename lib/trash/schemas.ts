import { z } from "zod";
import { wholeNumber } from "../whole-number";

export const trashDaysSchema = z.object({
  days: wholeNumber(
    z
      .number("Enter a number of days.")
      .int("Use a whole number of days.")
      .min(1, "Keep removed backups at least 1 day.")
      .max(365, "Use at most 365 days."),
  ),
});
