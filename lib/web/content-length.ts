import { ServerResponse } from "node:http";

// Next.js drops a route handler's Content-Length (it streams every body chunked), yet a download
// needs it: browsers show progress and offer Resume only with it, and curl -C checks against it.
// A response declares its length in `declaredLengthHeader`; the server turns that into a real
// Content-Length when it writes the head. Installed once at start (lib/startup).

const declaredLengthHeader = "x-coffer-content-length";

/** `headers` with their Content-Length also declared where the Node.js server will find it. */
export function withDeclaredLength(headers: Record<string, string>): Record<string, string> {
  const length = headers["Content-Length"];
  return length === undefined ? headers : { ...headers, [declaredLengthHeader]: length };
}

let installed = false;

/** Makes every Node.js HTTP response that declares its length send it as Content-Length. */
export function sendDeclaredContentLength() {
  if (installed) return;
  installed = true;
  const writeHead = ServerResponse.prototype.writeHead;
  ServerResponse.prototype.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const declared = this.getHeader(declaredLengthHeader);
    if (declared !== undefined) {
      this.removeHeader(declaredLengthHeader);
      // Only for a body sent as it is: not once something chose to compress or chunk it.
      const framed = ["content-length", "content-encoding", "transfer-encoding"].some((h) => this.hasHeader(h));
      if (!framed && /^\d+$/.test(String(declared))) this.setHeader("Content-Length", String(declared));
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof writeHead;
}
