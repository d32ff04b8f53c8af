import "server-only";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
  type StorageClass,
} from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import { AppError } from "@/lib/errors";
import { uploadInParts, type MultipartTuning } from "./multipart";
import type { PartPlan } from "./parts";

/** Where an S3 upload goes: `client` retries requests itself, `partClient` leaves retrying parts to uploadInParts. */
export interface S3Target {
  client: S3Client;
  partClient: S3Client;
  bucket: string;
  key: string;
  storageClass?: StorageClass;
}

/**
 * Stores `source` at the target's key: one PutObject when it fits in the first part, else a
 * multipart upload with the plan's part sizes, aborted (its parts deleted) when anything fails.
 * Resolves with the part sizes of a multipart upload.
 */
export async function putS3Object(
  t: S3Target,
  source: Readable,
  plan: PartPlan,
  tuning: MultipartTuning,
  signal: AbortSignal,
): Promise<number[] | undefined> {
  const object = {
    Bucket: t.bucket,
    Key: t.key,
    ContentType: "application/octet-stream",
    ...(t.storageClass && { StorageClass: t.storageClass }),
  };
  let uploadId: string | undefined;
  try {
    const out = await uploadInParts(
      source,
      plan,
      {
        begin: async () => {
          uploadId = (await t.client.send(new CreateMultipartUploadCommand(object), { abortSignal: signal })).UploadId;
          if (!uploadId)
            throw new AppError("UPSTREAM", "S3 did not start the multipart upload (no upload id). Try again.");
        },
        send: async (number, size, body, partSignal) => {
          const res = await t.partClient.send(
            new UploadPartCommand({
              Bucket: t.bucket,
              Key: t.key,
              UploadId: uploadId,
              PartNumber: number,
              Body: body(),
              ContentLength: size,
            }),
            { abortSignal: partSignal },
          );
          if (!res.ETag) throw new AppError("UPSTREAM", `S3 did not confirm part ${number} (no ETag). Try again.`);
          return res.ETag;
        },
      },
      tuning,
      signal,
    );
    if (out.kind === "single") {
      await t.client.send(new PutObjectCommand({ ...object, Body: out.data, ContentLength: out.data.length }), {
        abortSignal: signal,
      });
      return undefined;
    }
    // Not tied to the signal: once every part is there, completing is what makes the result definite.
    await t.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: t.bucket,
        Key: t.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: out.results.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
      }),
    );
    return out.sizes;
  } catch (err) {
    if (uploadId)
      await t.client
        .send(new AbortMultipartUploadCommand({ Bucket: t.bucket, Key: t.key, UploadId: uploadId }))
        .catch(() => {});
    throw err;
  }
}

/** Aborts every unfinished multipart upload to exactly `key`; resolves with how many. */
export async function abortS3Uploads(client: S3Client, bucket: string, key: string): Promise<number> {
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListMultipartUploadsCommand({
        Bucket: bucket,
        Prefix: key,
        KeyMarker: keyMarker,
        UploadIdMarker: uploadIdMarker,
      }),
    );
    for (const u of page.Uploads ?? []) {
      if (u.Key !== key || !u.UploadId) continue;
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: u.UploadId }));
      aborted++;
    }
    if (!page.IsTruncated) return aborted;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}
