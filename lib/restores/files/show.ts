/** A name for messages: quoted, control characters visible, long names shortened. */
export function show(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
}
