/**
 * The Content-Disposition of a download named `name`. A header holds only visible ASCII (Node
 * refuses anything above U+00FF, so such a name failed the download), so any other name is sent
 * as RFC 8187's `filename*` with an ASCII fallback for old clients; quotes and backslashes in the
 * fallback would end or escape it.
 */
export function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  if (ascii === name) return `attachment; filename="${name}"`;
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
