import { describe, expect, it } from "vitest";
import { lockedTable } from "./dump-postgres";

// The errors as PostgreSQL 15's pg_dump and psql print them when a lock wait runs out.
describe("lockedTable", () => {
  it("names the table from pg_dump's statement timeout and from the session's lock timeout", () => {
    expect(
      lockedTable(
        'pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout\npg_dump: detail: Query was: LOCK TABLE public."My Orders" IN ACCESS SHARE MODE\n',
      ),
    ).toBe('the table public."My Orders"');
    expect(
      lockedTable(
        'ERROR:  canceling statement due to lock timeout\nCONTEXT:  SQL statement "LOCK TABLE billing.invoices IN ACCESS SHARE MODE"\nPL/pgSQL function inline_code_block line 3 at EXECUTE\n',
      ),
    ).toBe("the table billing.invoices");
  });

  it("says one of them when a pg_dump that locks in batches names several", () => {
    expect(
      lockedTable(
        "pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout\npg_dump: detail: Query was: LOCK TABLE public.a, public.b IN ACCESS SHARE MODE\n",
      ),
    ).toBe("one of the tables public.a, public.b");
  });

  it("is null for any other failure, a statement timeout outside the lock phase included", () => {
    expect(lockedTable("ERROR:  permission denied for table secrets\n")).toBeNull();
    expect(lockedTable("ERROR:  canceling statement due to statement timeout\n")).toBeNull();
  });
});
