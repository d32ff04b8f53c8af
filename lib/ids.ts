import { z } from "zod";
import { idPattern } from "@/db/columns";

/** An id from outside (a form, a URL, an event) of the kind `prefix`: anything else is "Unknown <what>." */
export const idOf = (prefix: string, what: string) => z.string().regex(idPattern(prefix), `Unknown ${what}.`);
