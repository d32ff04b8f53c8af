import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { DumpGuard } from "./dump-guard";

/** pg_dump 15.18's output for a table with backslashes in its data, a BEGIN ATOMIC and a plpgsql function. */
const PG_DUMP = String.raw`--
-- PostgreSQL database dump
--

\restrict XCYQaejRM9UWitrFea3UX8bv9Tc71anojGb1jMKshvei6Jff6i16PiIi9iBTONF

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: f(integer); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.f(a integer) RETURNS integer
    LANGUAGE sql
    BEGIN ATOMIC
 SELECT (a + 1);
 SELECT
         CASE
             WHEN (a > 0) THEN 1
             ELSE 2
         END AS "case";
END;


ALTER FUNCTION public.f(a integer) OWNER TO postgres;

--
-- Name: g(); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.g() RETURNS text
    LANGUAGE plpgsql
    AS $$ BEGIN RETURN 'x\'; END $$;


ALTER FUNCTION public.g() OWNER TO postgres;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: t; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.t (
    id integer,
    note text,
    b bytea
);


ALTER TABLE public.t OWNER TO postgres;

--
-- Name: TABLE t; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.t IS 'it''s a "table" with \ inside';


--
-- Name: we;ird; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public."we;ird" (
    "col:USER" integer
);


ALTER TABLE public."we;ird" OWNER TO postgres;

--
-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.t (id, note, b) FROM stdin;
1	back\\slash	\\x00ff
2	\N	\N
3	\\! touch /tmp/x	\N
4	line\nbreak\\.	\N
5	\\.	\N
\.


--
-- Data for Name: we;ird; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public."we;ird" ("col:USER") FROM stdin;
1
\.


--
-- PostgreSQL database dump complete
--

\unrestrict XCYQaejRM9UWitrFea3UX8bv9Tc71anojGb1jMKshvei6Jff6i16PiIi9iBTONF

`;

/** Streams `text` through a DumpGuard in chunks cut at `cuts`; returns what came out, and the refusal if any. */
async function guard(
  text: string,
  cuts: number[] = [],
  options?: ConstructorParameters<typeof DumpGuard>[0],
): Promise<{ out: string; error?: AppError; targets: DumpGuard["copyTargets"] }> {
  const bytes = Buffer.from(text);
  const edges = [0, ...cuts, bytes.length];
  const chunks = edges
    .slice(1)
    .map((end, k) => bytes.subarray(edges[k], end))
    .filter((c) => c.length);
  const out: Buffer[] = [];
  const g = new DumpGuard(options);
  g.on("data", (c: Buffer) => out.push(c));
  try {
    await pipeline(Readable.from(chunks), g);
    return { out: Buffer.concat(out).toString(), targets: g.copyTargets };
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return { out: Buffer.concat(out).toString(), error: error as AppError, targets: g.copyTargets };
  }
}

/** Every way of cutting `text` in two, and byte by byte. */
function cuttings(text: string): number[][] {
  const n = Buffer.byteLength(text);
  return [[], ...Array.from({ length: n - 1 }, (_, k) => [k + 1]), Array.from({ length: n - 1 }, (_, k) => k + 1)];
}

/** The refusal for `text`, the same whichever way it is cut; what passed never includes `line`. */
async function refusal(
  text: string,
  line: string,
  options?: ConstructorParameters<typeof DumpGuard>[0],
): Promise<string> {
  const messages = new Set<string>();
  for (const cuts of cuttings(text)) {
    const { out, error } = await guard(text, cuts, options);
    expect(error, `cut at ${cuts.join(",")}`).toBeDefined();
    expect(error!.code).toBe("VALIDATION");
    expect(out).not.toContain(line);
    messages.add(error!.message);
  }
  expect(messages.size).toBe(1);
  return [...messages][0]!;
}

async function passes(text: string) {
  for (const cuts of cuttings(text)) {
    const { out, error } = await guard(text, cuts);
    expect(error?.message, `cut at ${cuts.join(",")}`).toBeUndefined();
    expect(out).toBe(text);
  }
}

describe("DumpGuard", () => {
  it("passes pg_dump's own output through unchanged, however it is cut", async () => {
    expect(PG_DUMP).toContain("\\restrict ");
    expect(PG_DUMP).toContain("3\t\\\\! touch /tmp/x");
    await passes(PG_DUMP);
  });

  it("passes it with CRLF line ends", async () => {
    await passes(PG_DUMP.replace(/\n/g, "\r\n"));
  });

  it.each([
    ["\\! touch /tmp/x", "\\!"],
    ["\\i /etc/passwd", "\\i"],
    ["\\o /tmp/out", "\\o"],
    ["\\copy t from '/etc/passwd'", "\\copy"],
    ["\\set ON_ERROR_STOP 0", "\\set"],
    ["SELECT 'x' \\gexec", "\\gexec"],
    ["\\connect other", "\\connect"],
    ["\\c other", "\\c"],
    ["\\restrict abc; \\! id", "\\restrict"],
    ["SELECT 1; \\! touch /tmp/x", "\\!"],
  ])("refuses %s with its line number", async (bad, name) => {
    const text = `SET x = 1;\nCOPY t FROM stdin;\n\\N\t\\\\\n\\.\n${bad}\nSELECT 2;\n`;
    const message = await refusal(text, bad);
    expect(message).toContain(`psql command ${name} on line 5`);
  });

  it("ends a -- comment at a carriage return, as psql does", async () => {
    expect(await refusal("SELECT 1; -- x\r\\! id\nSELECT 2;\n", "\\! id")).toContain("psql command \\! on line 1");
    await passes("SELECT 1; -- x\r\nSELECT 2; -- \\! in a comment\r\n");
  });

  it("blanks the dump's own \\restrict lines when psql runs restricted under Coffer's key, keeping every line where it was", async () => {
    const blanked = PG_DUMP.replace(/^\\(un)?restrict \w+$/gm, (line) => " ".repeat(line.length));
    expect(blanked).not.toContain("restrict");
    for (const cuts of cuttings(PG_DUMP).filter((_, k) => k % 97 === 0)) {
      const { out, error } = await guard(PG_DUMP, cuts, { restricted: true });
      expect(error?.message, `cut at ${cuts.join(",")}`).toBeUndefined();
      expect(out).toBe(blanked);
    }
  });

  it("refuses COPY in the roles and tablespaces, which run without ON_ERROR_STOP", async () => {
    const roles = "CREATE ROLE app;\nALTER ROLE app WITH LOGIN;\n";
    for (const cuts of cuttings(roles)) expect((await guard(roles, cuts, { globals: true })).out).toBe(roles);
    expect(await refusal(`${roles}COPY t FROM stdin;\n\\! id\n\\.\n`, "\\! id", { globals: true })).toContain(
      "has COPY … FROM stdin (roles and tablespaces never hold one) on line 3",
    );
  });

  it("reads COPY data as data up to \\. and SQL again after it", async () => {
    await passes("COPY t FROM stdin;\n\\! not a command\n\\.x\n'\n\\.\nSELECT 1;\n");
    await passes("COPY a FROM stdin; COPY b FROM stdin;\n\\N\n\\.\r\n\\N\n\\.\n");
    expect(await refusal("COPY a FROM stdin;\n1\n\\.\n\\! id\n", "\\! id")).toContain("on line 4");
    // The rest of the COPY's own line is SQL, read after its data.
    expect(await refusal("COPY a FROM stdin; \\! id\n1\n\\.\n", "\\! id")).toContain("on line 1");
    // A comment opened after COPY … ; continues after the data, not inside it.
    expect(await refusal("COPY a FROM stdin; /*\n*/ '\n\\.\n*/ \\! id\n", "\\! id")).toContain("on line 4");
  });

  it("names each COPY's table, in order, however the dump is cut; null where it is not schema-qualified", async () => {
    for (const cuts of cuttings(PG_DUMP).filter((_, k) => k % 13 === 0)) {
      expect((await guard(PG_DUMP, cuts)).targets, `cut at ${cuts.join(",")}`).toEqual([
        { schema: "public", table: "t" },
        { schema: "public", table: "we;ird" },
      ]);
    }
    const text = `COPY "Ventes Été"."T""1" (x) FROM stdin;\n\\.\nCopy Public.Items FROM stdin; COPY items FROM stdin;\n\\.\n\\.\n`;
    for (const cuts of cuttings(text)) {
      expect((await guard(text, cuts)).targets, `cut at ${cuts.join(",")}`).toEqual([
        { schema: "Ventes Été", table: 'T"1' },
        { schema: "public", table: "items" },
        null,
      ]);
    }
  });

  it("does not take COPY … TO stdout, or stdin in parentheses, as the start of data", async () => {
    expect(await refusal("COPY (SELECT 1 FROM stdin) TO stdout;\n\\! id\n", "\\! id")).toContain("line 2");
    expect(await refusal("SELECT 'COPY t FROM stdin;';\n\\! id\n", "\\! id")).toContain("line 2");
  });

  it("leaves backslashes in strings, names, comments and dollar quotes alone", async () => {
    await passes(
      [
        "SELECT '\\! x', E'\\'\\! x', \"\\!\", $$ \\! $$, $a$ $$ \\! $a$, U&'\\0041';",
        "-- \\! x",
        "/* /* nested */ \\! x */ SELECT 1::text, a$b, $1;",
        "SELECT 'first'",
        "'continued', E'a\\\\';",
        "",
      ].join("\n"),
    );
  });

  it("refuses what psql could read two ways", async () => {
    expect(await refusal("SELECT 'a\\';\nSELECT 1;\n", "SELECT 1")).toContain("string ending in a backslash");
    expect(await refusal("SELECT :USER;\n", ":USER")).toContain("psql variable :USER");
    expect(await refusal("SELECT :'HOST';\n", "HOST")).toContain("psql variable :'HOST'");
    expect(
      await refusal("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC; COPY t FROM stdin; END;\n", "END"),
    ).toContain("COPY … FROM stdin");
    expect(
      await refusal("CREATE FUNCTION f() RETURNS int AS 'x' LANGUAGE sql 1begin; COPY t FROM stdin;\n1\n", "\n1"),
    ).toContain("COPY … FROM stdin");
  });

  it("keeps lower-case names after a colon, array slices and casts", async () => {
    await passes("SELECT a[1:2], b::int, :foo, x:=1;\n");
  });
});
