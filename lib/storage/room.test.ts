import { describe, expect, it } from "vitest";
import { roomProblem } from "./room";

const GiB = 1024 ** 3;

describe("roomProblem", () => {
  const s3 = { largestObject: 5 * 1024 * GiB, why: "S3: up to 10,000 parts, 8 MiB growing to 5 GiB" };
  const disk = { largestObject: Infinity, why: "the disk holding /data", freeBytes: 50 * GiB };

  it("is silent when everything fits", () => {
    expect(
      roomProblem(40 * GiB, "the last backup", [
        { name: "bucket", room: s3 },
        { name: "disk", room: disk },
      ]),
    ).toBe(undefined);
  });

  it("names each destination that cannot take it and what to do", () => {
    expect(
      roomProblem(6 * 1024 * GiB, "the last backup", [
        { name: "bucket", room: s3 },
        { name: "disk", room: disk },
      ]),
    ).toBe(
      "A backup of about 6.0 TiB (the last backup) does not fit: bucket takes objects of at most 5.0 TiB " +
        "(S3: up to 10,000 parts, 8 MiB growing to 5 GiB); disk has 50.0 GiB free on the disk holding /data. " +
        "To go on, choose another destination, or split the sources into smaller backups; free some space there.",
    );
  });

  it("adds up the upload parts several destinations hold on the Coffer host's disk", () => {
    const spool = { dir: "/tmp", bytes: 3 * GiB, freeBytes: 5 * GiB };
    const rooms = [
      { name: "a", room: { ...s3, spool } },
      { name: "b", room: { ...s3, spool } },
    ];
    expect(roomProblem(1024 * GiB, "the last backup", rooms)).toBe(
      "A backup of about 1.0 TiB (the last backup) does not fit: its upload parts need 6.0 GiB in /tmp on the " +
        "Coffer host, which has 5.0 GiB free. To go on, free space there or set TMPDIR to a folder on a larger disk.",
    );
    expect(roomProblem(1024 * GiB, "the last backup", rooms.slice(0, 1))).toBeUndefined();
  });
});
