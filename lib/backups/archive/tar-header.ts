/**
 * Tar headers for the members Coffer frames itself (the manifest and each spooled dump), in GNU
 * tar's format like the rest of the archive: names longer than 100 bytes get a `././@LongLink`
 * entry, sizes of 8 GiB and more are written in base-256. GNU tar, Python's tarfile and
 * tar-stream read both.
 */
const BLOCK = 512;
const OCTAL_SIZE_LIMIT = 8 ** 11; // 11 octal digits in the 12-byte size field

/** Zero bytes that complete a member of `size` bytes to whole 512-byte blocks. */
export const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** Two zero blocks end a tar archive. */
export const endOfArchive = () => Buffer.alloc(2 * BLOCK);

/** The header block(s) of a regular file member `name` of `size` bytes (mode 0600, owned by uid/gid 0). */
export function fileHeader(name: string, size: number, mtime: Date): Buffer {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid tar member size ${size}`);
  const nameBytes = Buffer.from(name, "utf8");
  const seconds = Math.floor(mtime.getTime() / 1000);
  if (nameBytes.length <= 100) return block(nameBytes, "0", size, seconds);
  const longName = Buffer.concat([nameBytes, Buffer.alloc(1)]);
  return Buffer.concat([
    block(Buffer.from("././@LongLink"), "L", longName.length, 0),
    longName,
    padding(longName.length),
    block(nameBytes.subarray(0, 100), "0", size, seconds),
  ]);
}

function block(name: Buffer, type: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0);
  octal(h, 100, 8, 0o600);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  if (size < OCTAL_SIZE_LIMIT) octal(h, 124, 12, size);
  else base256(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.write(type, 156, "latin1");
  h.write("ustar  \0", 257, "latin1"); // GNU magic and version
  h.fill(" ", 148, 156); // the checksum counts its own field as spaces
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return h;
}

function octal(h: Buffer, offset: number, width: number, value: number) {
  h.write(`${value.toString(8).padStart(width - 1, "0")}\0`, offset, "latin1");
}

function base256(h: Buffer, offset: number, width: number, value: number) {
  let v = BigInt(value);
  for (let i = offset + width - 1; i > offset; i--) {
    h[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  h[offset] = 0x80;
}
