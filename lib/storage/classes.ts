/** Where a destination keeps objects. */
export type StorageKind = "local" | "server" | "s3" | "gcs" | "azure";

/** Canonical storage classes per provider, coldest last. Plain data, so forms in the browser use it too. */
export const STORAGE_CLASSES = {
  local: [],
  server: [],
  s3: ["STANDARD", "STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"],
  gcs: ["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"],
  azure: ["Hot", "Cool", "Cold", "Archive"],
} as const satisfies Record<StorageKind, readonly string[]>;

/**
 * Archive classes: their objects cannot be read until the provider makes a readable copy
 * (`StorageAdapter.retrieve`). Values are the hours a standard-priority retrieval takes at most,
 * as the providers document it (S3 GLACIER 3–5 h, DEEP_ARCHIVE within 12 h; Azure Archive up to
 * 15 h). GLACIER_IR and every GCS class read directly.
 */
export const RETRIEVAL_HOURS: Partial<Record<StorageKind, Readonly<Record<string, number>>>> = {
  s3: { GLACIER: 5, DEEP_ARCHIVE: 12 },
  azure: { Archive: 15 },
};

/** Hours a retrieval of `storageClass` takes at most, or null when objects of that class read directly. */
export function retrievalHours(kind: StorageKind, storageClass: string | null | undefined): number | null {
  return (storageClass && RETRIEVAL_HOURS[kind]?.[storageClass]) || null;
}
