import type { StorageKind } from "./types";

/** Canonical storage classes per provider, coldest last. Plain data, so forms in the browser use it too. */
export const STORAGE_CLASSES = {
  local: [],
  server: [],
  s3: ["STANDARD", "STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"],
  gcs: ["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"],
  azure: ["Hot", "Cool", "Cold", "Archive"],
} as const satisfies Record<StorageKind, readonly string[]>;
