import { z } from "zod";
import { wholeNumber } from "../whole-number";
import { DEFAULT_POLICY } from "./select";

const count = (max: number) =>
  wholeNumber(
    z
      .number("Enter a whole number: 0 or more.")
      .int("Use a whole number.")
      .min(0, "Use 0 or more.")
      .max(max, `Use at most ${max}.`),
  );

export const retentionSchema = z.object({
  keepAll: z.boolean().default(false),
  last: count(1000).default(0),
  daily: count(1000).default(DEFAULT_POLICY.daily),
  weekly: count(520).default(DEFAULT_POLICY.weekly),
  monthly: count(240).default(DEFAULT_POLICY.monthly),
  yearly: count(100).default(DEFAULT_POLICY.yearly),
});
