import { z } from "zod";

/**
 * `schema` with every object inside it closed: a field it does not name is refused (the
 * `unrecognized_keys` issue, one message listing the fields it takes) instead of dropped, however
 * deep it sits (`retention.dialy`, `when.minutes`). The forms share the schemas and stay as they
 * are; the API's bodies go through this. An object that takes other fields on purpose (a
 * `catchall`, such as a destination's provider fields) keeps them.
 */
export function closed<S extends z.ZodType>(schema: S, noun = "field"): S {
  return close(schema, noun) as S;
}

type Def = Record<string, unknown> & { type: string };
const wrappers = new Set(["optional", "nullable", "default", "prefault", "nonoptional", "readonly", "catch"]);

function close(schema: z.ZodType, noun: string): z.ZodType {
  const def = schema._zod.def as unknown as Def;
  const rebuilt = (changes: Record<string, unknown>) =>
    (schema as unknown as { clone(def: object, params: { parent: true }): z.ZodType }).clone(
      { ...def, ...changes },
      { parent: true }, // keeps its descriptions (not its id) in the OpenAPI document
    );
  const all = (list: z.ZodType[]) => {
    const next = list.map((s) => close(s, noun));
    return next.some((s, i) => s !== list[i]) ? next : null;
  };
  switch (def.type) {
    case "object": {
      const shape = def.shape as Record<string, z.ZodType>;
      const names = Object.keys(shape);
      const inner = Object.fromEntries(names.map((k) => [k, close(shape[k]!, "field")]));
      const catchall = def.catchall as z.ZodType | undefined;
      const open = catchall && catchall._zod.def.type !== "never";
      if (open && names.every((k) => inner[k] === shape[k])) return schema;
      const own = def.error as ((issue: unknown) => unknown) | undefined;
      return rebuilt({
        shape: inner,
        catchall: catchall ?? z.never(),
        error: (issue: { code: string }) =>
          issue.code === "unrecognized_keys"
            ? `Unknown ${noun} (check its spelling): use ${names.length ? names.join(", ") : "none"}.`
            : own?.(issue),
      });
    }
    case "array": {
      const element = close(def.element as z.ZodType, noun);
      return element === def.element ? schema : rebuilt({ element });
    }
    case "union": {
      const options = all(def.options as z.ZodType[]);
      return options ? rebuilt({ options }) : schema;
    }
    case "intersection":
    case "pipe": {
      const [a, b] = def.type === "pipe" ? (["in", "out"] as const) : (["left", "right"] as const);
      const sides = all([def[a] as z.ZodType, def[b] as z.ZodType]);
      return sides ? rebuilt({ [a]: sides[0], [b]: sides[1] }) : schema;
    }
    case "record": {
      const valueType = close(def.valueType as z.ZodType, noun);
      return valueType === def.valueType ? schema : rebuilt({ valueType });
    }
    default: {
      if (!wrappers.has(def.type)) return schema;
      const innerType = close(def.innerType as z.ZodType, noun);
      return innerType === def.innerType ? schema : rebuilt({ innerType });
    }
  }
}
