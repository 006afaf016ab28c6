/**
 * The page to return to after sign-in, from `?next=`: only a path on this origin (`/calls/…`),
 * never `//host` or `https://…` (no open redirect); `/` otherwise.
 */
export function safeNext(search: string): string {
  const next = new URLSearchParams(search).get("next");
  if (!next?.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  if (next.startsWith("/sign-in") || next.startsWith("/sign-up")) return "/";
  return next;
}
