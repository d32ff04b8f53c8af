import "server-only";
import { lookup } from "node:dns/promises";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { AppError } from "@/lib/errors";

/**
 * Outbound address guard: Coffer connects to hosts that tenants type in, so without this check a
 * tenant could make Coffer probe its own network (the database, the cloud metadata service,
 * other tenants' private hosts). Resolve once, check every address, and connect to the address
 * that was checked — never to the name again (a second lookup could return something else:
 * DNS rebinding).
 */

/** Why the guard refused: a bad host string, a name that does not resolve, a DNS failure, or a forbidden address. */
export type AddressRefusal = "invalid-host" | "unknown-host" | "dns-failed" | "forbidden-address";

export class AddressGuardError extends AppError {
  readonly reason: AddressRefusal;
  constructor(
    code: "VALIDATION" | "UPSTREAM",
    reason: AddressRefusal,
    message: string,
    fieldErrors?: Record<string, string[]>,
  ) {
    super(code, message, fieldErrors);
    this.reason = reason;
  }
}

export interface AllowedAddress {
  address: string;
  family: 4 | 6;
}

type Range = [network: string, prefix: number, label: string];

const V4: Range[] = [
  ["0.0.0.0", 8, 'an unspecified/"this network" address'],
  ["127.0.0.0", 8, "a loopback address"],
  ["10.0.0.0", 8, "a private network address (RFC 1918)"],
  ["172.16.0.0", 12, "a private network address (RFC 1918)"],
  ["192.168.0.0", 16, "a private network address (RFC 1918)"],
  ["100.64.0.0", 10, "a carrier-grade NAT address (100.64.0.0/10)"],
  ["169.254.0.0", 16, "a link-local address"],
  ["192.0.0.0", 24, "an IETF protocol address (192.0.0.0/24)"],
  ["192.0.2.0", 24, "a documentation address"],
  ["198.51.100.0", 24, "a documentation address"],
  ["203.0.113.0", 24, "a documentation address"],
  ["198.18.0.0", 15, "a benchmarking address"],
  ["224.0.0.0", 4, "a multicast address"],
  ["240.0.0.0", 4, "a reserved or broadcast address"],
];

const V6: Range[] = [
  ["::", 128, "the unspecified address"],
  ["::1", 128, "a loopback address"],
  ["fc00::", 7, "a private (unique local) address"],
  ["fe80::", 10, "a link-local address"],
  ["fec0::", 10, "a site-local address"],
  ["ff00::", 8, "a multicast address"],
  ["100::", 64, "a discard-only address"],
  ["64:ff9b:1::", 48, "a local-use NAT64 address (64:ff9b:1::/48), which can lead into private networks"],
  ["2001::", 32, "a Teredo tunnel address (2001::/32), which can lead into private networks"],
  ["2001:db8::", 32, "a documentation address"],
];

const METADATA = new Set(["169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200"]);

function buildList(ranges: Range[], family: "ipv4" | "ipv6") {
  return ranges.map(([net, prefix, label]) => {
    const list = new BlockList();
    list.addSubnet(net, prefix, family);
    return { list, label };
  });
}
const v4Lists = buildList(V4, "ipv4");
const v6Lists = buildList(V6, "ipv6");

/** 16 bytes of an IPv6 address (no zone id), or undefined if it does not parse. */
function ipv6Bytes(address: string): number[] | undefined {
  let text = address;
  let tailV4: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = text
      .slice(lastColon + 1)
      .split(".")
      .map(Number);
    if (v4.length !== 4 || v4.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return undefined;
    tailV4 = v4;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head = "", tail] = text.split("::") as [string, string | undefined];
  const parse = (s: string) => (s ? s.split(":").map((h) => parseInt(h, 16)) : []);
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return undefined;
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  if (tailV4.length) bytes.splice(12, 4, ...tailV4);
  return bytes;
}

/** An IPv4 address carried inside an IPv6 one (mapped, translated, compatible, NAT64, 6to4), if any. */
function embeddedV4(address: string): string | undefined {
  const b = ipv6Bytes(address);
  if (!b) return undefined;
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const v4 = (i: number) => b.slice(i, i + 4).join(".");
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12); // ::ffff:a.b.c.d (mapped)
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return v4(12); // ::ffff:0:a.b.c.d (translated, RFC 2765)
  if (zero(0, 12) && !zero(12, 14)) return v4(12); // ::a.b.c.d (deprecated "compatible"); not :: or ::1
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return v4(12); // 64:ff9b::/96 NAT64
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2); // 2002::/16 6to4
  return undefined;
}

/** Why this address must not be reached, or undefined when it is a public address. */
export function forbiddenReason(address: string): string | undefined {
  const plain = address.replace(/%.*$/, "").toLowerCase(); // zone id: fe80::1%eth0
  const family = isIP(plain);
  if (family === 0) return "not an IP address";
  if (METADATA.has(plain)) return "a cloud metadata service address";
  if (family === 4) return v4Lists.find(({ list }) => list.check(plain, "ipv4"))?.label;
  const inner = embeddedV4(plain);
  if (inner) {
    const reason = forbiddenReason(inner);
    if (reason) return `${reason} (embedded in the IPv6 address)`;
  }
  return v6Lists.find(({ list }) => list.check(plain, "ipv6"))?.label;
}

const LOOKUP_TIMEOUT_MS = 10_000;

function refuse(host: string, address: string, reason: string): AppError {
  const shown = host === address ? address : `${host} (${address})`;
  return new AddressGuardError(
    "VALIDATION",
    "forbidden-address",
    `Coffer does not connect to ${shown}: it is ${reason}. Use the server's public address, or ask the operator of this Coffer installation to allow private networks (ALLOW_PRIVATE_NETWORKS=true).`,
    { host: [`${shown} is ${reason}.`] },
  );
}

/**
 * Resolves `host` (a name, an IPv4 literal, an IPv6 literal with or without brackets) and
 * returns the address to connect to. Refuses (AppError VALIDATION) when any resolved address is
 * loopback, private, link-local, CGNAT, unspecified, multicast, reserved or a cloud metadata
 * address — unless `allowPrivate`. DNS failures are AppError UPSTREAM.
 */
export async function resolveAllowedAddress(
  host: string,
  opts: { allowPrivate: boolean; signal?: AbortSignal },
): Promise<AllowedAddress> {
  const name = normalizeHost(host);

  let addresses: { address: string; family: number }[];
  const literal = isIP(name.replace(/%.*$/, ""));
  if (literal) {
    addresses = [{ address: name, family: literal }];
  } else if (/(^|\.)invalid\.?$/i.test(name)) {
    // RFC 6761: names under .invalid never resolve; answer at once instead of asking DNS.
    throw unknownHost(host);
  } else {
    addresses = await lookupAll(host, name, opts.signal);
  }
  if (addresses.length === 0) throw unknownHost(host);

  if (!opts.allowPrivate) {
    for (const { address } of addresses) {
      const reason = forbiddenReason(address);
      if (reason) throw refuse(name, address, reason);
    }
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

function normalizeHost(host: string): string {
  if (typeof host !== "string") throw invalidHost(String(host));
  let name = host.trim();
  if (name.startsWith("[") && name.endsWith("]")) name = name.slice(1, -1);
  // Names and literals only: no whitespace, control characters, URLs or user@host.
  if (!name || name.length > 253 || /[\s\x00-\x1f\x7f/\\@?#]/.test(name)) throw invalidHost(host);
  return name;
}

const invalidHost = (host: string) =>
  new AddressGuardError("VALIDATION", "invalid-host", `"${host.slice(0, 100)}" is not a host name or IP address.`, {
    host: ["Enter a host name or an IP address."],
  });

const unknownHost = (host: string) =>
  new AddressGuardError(
    "UPSTREAM",
    "unknown-host",
    `Unknown host "${host}": the name does not resolve (DNS). Check the host name for typos.`,
  );

async function lookupAll(original: string, name: string, signal?: AbortSignal) {
  signal?.throwIfAborted();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new AddressGuardError(
            "UPSTREAM",
            "dns-failed",
            `Looking up "${original}" timed out (DNS). Try again later, or use an IP address.`,
          ),
        ),
      LOOKUP_TIMEOUT_MS,
    );
    onAbort = () => reject(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([
      lookup(name, { all: true, verbatim: true }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOTFOUND" || error.code === "ENODATA") throw unknownHost(original);
        throw new AddressGuardError(
          "UPSTREAM",
          "dns-failed",
          `Could not look up "${original}" right now (DNS: ${error.code ?? "error"}). Try again later.`,
        );
      }),
      stop,
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * The refusal for an IP literal the guard would refuse, else undefined. Sockets opened to a literal
 * never call `lookup`, so agents check literals (a redirect's Location, say) with this.
 */
export function literalRefusal(host: string | null | undefined, allowPrivate: boolean): AppError | undefined {
  const name = (host ?? "").replace(/^\[|\]$/g, "");
  if (allowPrivate || !isIP(name.replace(/%.*$/, ""))) return undefined;
  const reason = forbiddenReason(name);
  return reason ? refuse(name, name, reason) : undefined;
}

/**
 * A `lookup` for http(s) agents: every connection resolves through the guard and goes to the
 * address that was checked, so a second DNS answer (rebinding) cannot redirect it.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolveAllowedAddress(hostname, { allowPrivate }).then(
      ({ address, family }) => (options.all ? callback(null, [{ address, family }]) : callback(null, address, family)),
      (err: Error) => callback(err as NodeJS.ErrnoException, "", 0),
    );
  };
}
