import { describe, expect, it } from "vitest";
import { signUpSchema } from "../auth/schemas";
import { AppError } from "../errors";
import { createServerSchema, createSourceSchema } from "../servers/schemas";
import { createDestinationSchema } from "../destinations/schemas";
import { parseInput } from "./input";

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("accepted");
};

describe("parseInput", () => {
  it.each([
    ["a NUL byte in a name", createServerSchema, { kind: "local", name: "web\u00001", workDir: "/tmp" }, "name"],
    [
      "an escape sequence",
      signUpSchema,
      { name: "Eve\u001b[31m", email: "e@example.test", password: "long-enough-pw" },
      "name",
    ],
    [
      "a NUL byte in one path of a list",
      createSourceSchema,
      { serverId: "srv_0123456789abcdefghjkmnpqrs", kind: "directory", name: "files", paths: ["/srv", "/etc\u0000"] },
      "paths.1",
    ],
  ])("refuses %s with a message naming the field", (_what, schema, input, field) => {
    const err = refusal(() => parseInput(schema, input));
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: "VALIDATION" });
    expect((err as AppError).message).toMatch(/control character .*remove it/);
    expect(Object.keys((err as AppError).fieldErrors!)).toEqual([field]);
  });

  it("keeps tabs and line breaks where multi-line text belongs", () => {
    const parsed = parseInput(createSourceSchema, {
      serverId: "srv_0123456789abcdefghjkmnpqrs",
      kind: "directory",
      name: "files",
      paths: "/srv\r\n/etc\n",
      excludes: "*.tmp\t",
    });
    expect(parsed).toMatchObject({ paths: ["/srv", "/etc"] });
  });

  it("every destination schema field goes through the same check", () => {
    expect(
      refusal(() => parseInput(createDestinationSchema, { kind: "s3", name: "x", bucket: "b\u0000", region: "eu" })),
    ).toMatchObject({ code: "VALIDATION", fieldErrors: { bucket: [expect.stringMatching(/control character/)] } });
  });
});
