import type { PartLimits } from "./parts";

/**
 * What each provider takes in one object, from its documentation. S3-compatible services mostly
 * follow S3; those known to differ are recognised by their endpoint's host.
 */

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

/** Amazon S3, and S3-compatible services not listed below: 10,000 parts of 5 MiB–5 GiB, objects up to 5 TiB. */
const S3: PartLimits = {
  name: "S3",
  minPart: 5 * MiB,
  maxPart: 5 * GiB,
  maxParts: 10_000,
  maxObject: 5 * TiB,
  start: 8 * MiB,
  unknownTarget: 5 * TiB,
};

const S3_COMPATIBLE: { host: RegExp; limits: PartLimits }[] = [
  {
    // Every part but the last must have the same size; objects up to 5 TiB − 5 GiB.
    host: /(^|\.)r2\.cloudflarestorage\.com$/,
    limits: {
      name: "Cloudflare R2",
      minPart: 5 * MiB,
      maxPart: 5 * GiB - 5 * MiB,
      maxParts: 10_000,
      maxObject: 5 * TiB - 5 * GiB,
      start: 64 * MiB,
      unknownTarget: 10_000 * 64 * MiB,
      equalParts: true,
    },
  },
  {
    // At most 1,000 parts of 5 MB–5 GB; objects up to 5 TB.
    host: /(^|\.)scw\.cloud$/,
    limits: {
      name: "Scaleway Object Storage",
      minPart: 5 * MiB,
      maxPart: 4768 * MiB,
      maxParts: 1000,
      maxObject: 5e12,
      start: 8 * MiB,
      unknownTarget: 1 * TiB,
    },
  },
];

/** The part limits of an S3 destination: its endpoint's service, or S3's. */
export function s3Limits(endpoint: string | undefined): PartLimits {
  if (!endpoint) return S3;
  let host: string;
  try {
    host = new URL(endpoint).hostname.toLowerCase().replace(/\.$/, "");
  } catch {
    return S3;
  }
  return S3_COMPATIBLE.find((p) => p.host.test(host))?.limits ?? S3;
}

/**
 * Azure block blobs: 50,000 blocks of up to 4,000 MiB (about 190.7 TiB). Reaching that needs every
 * block at the largest size, so without an estimate the plan keeps room for 100 TiB (blocks stay
 * at 8 MiB up to about 23 GiB); an estimate raises it up to the full limit.
 */
export const AZURE_LIMITS: PartLimits = {
  name: "Azure Blob Storage",
  minPart: 1,
  maxPart: 4000 * MiB,
  maxParts: 50_000,
  maxObject: 50_000 * 4000 * MiB,
  start: 8 * MiB,
  unknownTarget: 100 * TiB,
};

/** Google Cloud Storage: objects up to 5 TiB; a resumable upload has no chunk count limit. */
export const GCS_MAX_OBJECT = 5 * TiB;
