import { describe, expect, it } from "vitest";
import { retentionSchema } from "./retention/schemas";
import { presetSchema } from "./schedules/schemas";
import { createServerSchema } from "./servers/schemas";
import { trashDaysSchema } from "./trash/schemas";

const issues = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  r.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);

describe("whole numbers from forms and JSON", () => {
  it("a blank, null or boolean count is refused, never read as 0 or 1", () => {
    for (const daily of ["", "  ", null, true, false, "seven", Number.NaN])
      expect(issues(retentionSchema.safeParse({ daily })), String(daily)).toEqual([
        "daily: Enter a whole number: 0 or more.",
      ]);
    expect(issues(retentionSchema.safeParse({ daily: 2.5 }))).toEqual(["daily: Use a whole number."]);
    expect(issues(trashDaysSchema.safeParse({ days: "" }))).toEqual(["days: Enter a number of days."]);
    expect(issues(presetSchema.safeParse({ kind: "hourly", minute: "" }))).toEqual([
      "minute: Use a minute from 0 to 59.",
    ]);
    const server = {
      kind: "ssh",
      name: "db",
      host: "db.example.com",
      username: "u",
      authMethod: "key",
      privateKey: "k",
    };
    expect(issues(createServerSchema.safeParse({ ...server, port: true }))).toContain(
      "port: Enter a port from 1 to 65535.",
    );
  });

  it("numbers and numeric text (a form's fields) are read; absent counts take their defaults", () => {
    expect(retentionSchema.parse({ daily: "3", weekly: 2, last: " 0 " })).toMatchObject({
      daily: 3,
      weekly: 2,
      last: 0,
    });
    expect(retentionSchema.parse({})).toMatchObject({ daily: 7, weekly: 4, monthly: 6, last: 0 });
    expect(trashDaysSchema.parse({ days: "30" })).toEqual({ days: 30 });
  });
});
