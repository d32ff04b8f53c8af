/**
 * Part sizes for uploads of unknown length (S3 multipart uploads, Azure block lists). Providers cap
 * the number of parts, so fixed small parts would cap the object size; fixed large parts would
 * make every small backup hold large buffers. The plan starts small (or at a size chosen from an
 * estimate) and doubles the part size at a steady pace, computed so the parts left can still hold
 * the plan's target size.
 */

const MiB = 1024 * 1024;

export interface PartLimits {
  /** Who sets these limits, for messages ("S3", "Cloudflare R2"…). */
  name: string;
  /** Smallest part but the last. */
  minPart: number;
  /** Largest part. */
  maxPart: number;
  /** Most parts in one object. */
  maxParts: number;
  /** Largest object the provider stores. */
  maxObject: number;
  /** First part size when nothing is known about the size. */
  start: number;
  /** The size the plan keeps room for when nothing is known (at most `maxObject`). */
  unknownTarget: number;
  /** Every part but the last has the same size (Cloudflare R2): no growth, the estimate decides. */
  equalParts?: boolean;
}

const roundUpMiB = (n: number) => Math.ceil(n / MiB) * MiB;
const mib = (n: number) => (n >= 1024 * MiB ? `${+(n / 1024 / MiB).toFixed(2)} GiB` : `${Math.round(n / MiB)} MiB`);

/** Total bytes of `parts` parts starting at `base` and doubling every `step` parts, capped at `max`. */
function capacity(base: number, step: number, parts: number, max: number): number {
  let total = 0;
  for (let level = 0, left = parts; left > 0; level++) {
    const n = Math.min(step, left);
    total += n * Math.min(max, base * 2 ** level);
    left -= n;
    if (base * 2 ** level >= max) return total + left * max;
  }
  return total;
}

/** The slowest doubling pace (most parts per size) whose `parts` parts still hold `need` bytes; 1 when none does. */
function growthStep(base: number, parts: number, need: number, max: number): number {
  if (capacity(base, parts, parts, max) >= need) return parts;
  let lo = 1;
  let hi = parts;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (capacity(base, mid, parts, max) >= need) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The sizes of one upload's parts, in order. With an estimate, parts start at the size that puts
 * twice the estimate in the provider's part count, and stay there while the upload is below the
 * estimate; past it (or from the start, without one) they grow to keep room for the target:
 * twice the estimate or `unknownTarget`, whichever is larger, at most `maxObject`.
 */
export class PartPlan {
  private readonly base: number;
  private readonly target: number;
  private readonly estimate: number;
  private growth: { from: number; step: number } | undefined;
  parts = 0;
  bytes = 0;

  constructor(
    readonly limits: PartLimits,
    estimate?: number,
  ) {
    const l = limits;
    this.estimate = estimate && Number.isFinite(estimate) && estimate > 0 ? estimate : 0;
    const fromEstimate = roundUpMiB((2 * this.estimate) / l.maxParts);
    this.base = Math.min(l.maxPart, Math.max(l.start, l.minPart, fromEstimate));
    this.target = Math.min(l.maxObject, Math.max(l.unknownTarget, 2 * this.estimate));
  }

  /** Size of the next part (the last one may turn out shorter), or undefined when the provider takes no more parts. */
  next(): number | undefined {
    const l = this.limits;
    if (this.parts >= l.maxParts) return undefined;
    if (l.equalParts) return this.base;
    if (!this.growth) {
      if (this.bytes < this.estimate) return this.base;
      const left = l.maxParts - this.parts;
      this.growth = { from: this.parts, step: growthStep(this.base, left, this.target - this.bytes, l.maxPart) };
    }
    const level = Math.floor((this.parts - this.growth.from) / this.growth.step);
    return Math.min(l.maxPart, this.base * 2 ** level);
  }

  /** Records a part of `size` bytes. */
  add(size: number): void {
    this.parts++;
    this.bytes += size;
  }

  /** The largest object this plan can store: every part as large as planned, up to the provider's limits. */
  largestObject(): number {
    return Math.min(this.limits.maxObject, this.simulate(Infinity).bytes);
  }

  /** The plan in a few words, for "Test" and size checks. */
  describe(): string {
    const l = this.limits;
    const parts = `up to ${l.maxParts.toLocaleString("en-US")} parts`;
    if (l.equalParts) return `${l.name}: ${parts} of one size (${mib(this.base)} here)`;
    return `${l.name}: ${parts}, ${mib(this.base)} growing to ${mib(l.maxPart)}`;
  }

  /** The largest part the plan uses to store `size` bytes. */
  largestPartFor(size: number): number {
    return this.simulate(size).largest;
  }

  private simulate(upTo: number) {
    const copy = new PartPlan(this.limits, this.estimate);
    let largest = 0;
    for (let size = copy.next(); size !== undefined && copy.bytes < upTo; size = copy.next()) {
      largest = Math.max(largest, size);
      copy.add(size);
    }
    return { bytes: copy.bytes, largest };
  }
}
