import { describe, expect, it } from "vitest";
import { AZURE_LIMITS, s3Limits } from "./limits";
import { PartPlan, type PartLimits } from "./parts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

/** The part sizes a plan uses for an object of `total` bytes (the last part shorter), or undefined when it does not fit. */
function cut(plan: PartPlan, total: number): number[] | undefined {
  const sizes: number[] = [];
  for (let left = total; left > 0;) {
    const size = plan.next();
    if (size === undefined) return undefined;
    const n = Math.min(size, left);
    plan.add(n);
    sizes.push(n);
    left -= n;
  }
  return sizes;
}

function expectValid(limits: PartLimits, sizes: number[]) {
  expect(sizes.length).toBeLessThanOrEqual(limits.maxParts);
  for (const [i, size] of sizes.entries()) {
    expect(size).toBeLessThanOrEqual(limits.maxPart);
    if (i < sizes.length - 1) expect(size).toBeGreaterThanOrEqual(limits.minPart);
    if (i > 0 && i < sizes.length - 1) expect(size).toBeGreaterThanOrEqual(sizes[i - 1]!);
  }
}

describe("part plans", () => {
  const s3 = s3Limits(undefined);

  it("S3 without an estimate: 8 MiB parts first, growing so that 5 TiB still fits in 10,000 parts", () => {
    expect(cut(new PartPlan(s3), 1 * GiB)).toEqual(Array(128).fill(8 * MiB));
    const sizes = cut(new PartPlan(s3), 5 * TiB)!;
    expectValid(s3, sizes);
    expect(sizes[0]).toBe(8 * MiB);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(5 * GiB);
    expect(new PartPlan(s3).largestObject()).toBe(5 * TiB);
    // A 100 GiB backup stays at parts Coffer holds in memory (64 MiB at most).
    expect(new PartPlan(s3).largestPartFor(100 * GiB)).toBe(64 * MiB);
  });

  it("S3 with an estimate: one part size up to the estimate, growth only past it", () => {
    const sizes = cut(new PartPlan(s3, 100 * GiB), 100 * GiB)!;
    expect(new Set(sizes.slice(0, -1))).toEqual(new Set([21 * MiB]));
    expect(sizes.length).toBeLessThanOrEqual(5_000);
    // The estimate was 10 times too small: parts grow and the object still fits.
    const over = cut(new PartPlan(s3, 100 * GiB), 1 * TiB)!;
    expectValid(s3, over);
    expect(Math.max(...over)).toBeGreaterThan(21 * MiB);
    expect(new PartPlan(s3, 100 * GiB).largestObject()).toBe(5 * TiB);
  });

  it("a test's lowered limit (20 parts) holds 200 parts' worth of the starting size", () => {
    const limits = { ...s3, maxParts: 20, start: 5 * MiB };
    const sizes = cut(new PartPlan(limits), 200 * 5 * MiB)!;
    expectValid(limits, sizes);
    expect(sizes).toEqual([5, 10, 20, 40, 80, 160, 320, 365].map((n) => n * MiB));
  });

  it("says when the provider takes no more parts", () => {
    const limits = { ...s3, maxParts: 3, maxPart: 8 * MiB };
    expect(cut(new PartPlan(limits), 24 * MiB)).toHaveLength(3);
    expect(cut(new PartPlan(limits), 24 * MiB + 1)).toBeUndefined();
    expect(new PartPlan(limits).largestObject()).toBe(24 * MiB);
  });

  it("Cloudflare R2: parts of one size, chosen from the estimate", () => {
    const r2 = s3Limits("https://0123abcd.r2.cloudflarestorage.com");
    expect(r2.name).toBe("Cloudflare R2");
    const sizes = cut(new PartPlan(r2), 1 * GiB)!;
    expect(new Set(sizes)).toEqual(new Set([64 * MiB]));
    expect(new PartPlan(r2).largestObject()).toBe(10_000 * 64 * MiB);
    const plan = new PartPlan(r2, 2 * TiB);
    expect(plan.largestObject()).toBeGreaterThanOrEqual(4 * TiB);
    expect(new Set(cut(plan, 2 * TiB)!.slice(0, -1)).size).toBe(1);
    expect(new PartPlan(r2).describe()).toBe("Cloudflare R2: up to 10,000 parts of one size (64 MiB here)");
  });

  it("Scaleway: 1,000 parts; other S3-compatible endpoints follow S3", () => {
    const scw = s3Limits("https://s3.fr-par.scw.cloud");
    expect(scw.maxParts).toBe(1000);
    expectValid(scw, cut(new PartPlan(scw), 500 * GiB)!);
    expect(s3Limits("http://minio.internal:9000")).toBe(s3);
    expect(s3Limits("not a url")).toBe(s3);
  });

  it("Azure: 8 MiB blocks up to tens of GiB; room for 100 TiB without an estimate, the full limit with one", () => {
    expect(new PartPlan(AZURE_LIMITS).largestPartFor(20 * GiB)).toBe(8 * MiB);
    expect(new PartPlan(AZURE_LIMITS).largestObject()).toBeGreaterThanOrEqual(100 * TiB);
    expect(new PartPlan(AZURE_LIMITS, 150 * TiB).largestObject()).toBeGreaterThanOrEqual(150 * TiB);
    expect(new PartPlan(AZURE_LIMITS).describe()).toBe(
      "Azure Blob Storage: up to 50,000 parts, 8 MiB growing to 3.91 GiB",
    );
  });
});
