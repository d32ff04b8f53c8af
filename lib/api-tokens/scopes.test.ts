import { describe, expect, it } from "vitest";
import { tokenRole } from "./scopes";

describe("tokenRole", () => {
  it("is what the widest scope needs", () => {
    expect(tokenRole("owner", ["read"])).toBe("viewer");
    expect(tokenRole("owner", ["metrics:read"])).toBe("viewer");
    expect(tokenRole("owner", ["read", "backups:write"])).toBe("member");
    expect(tokenRole("owner", ["admin", "read"])).toBe("admin");
  });

  it("never exceeds the creator's role at creation", () => {
    expect(tokenRole("admin", ["admin"])).toBe("admin");
    expect(tokenRole("member", ["admin"])).toBe("member");
    expect(tokenRole("viewer", ["backups:write"])).toBe("viewer");
  });
});
