import { useLocation, useSearch } from "wouter";

/**
 * A list's filters and page kept in the address (`/calls?q=ann&page=2`): shareable and kept
 * across reloads. Changing a filter returns to the first page.
 */
export function useUrlFilters(path: string) {
  const search = new URLSearchParams(useSearch());
  const [, navigate] = useLocation();
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(search);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== "page") next.delete("page");
    navigate(`${path}?${next.toString()}`, { replace: true });
  };
  return {
    /** The value of `key`, `""` when unset. */
    get: (key: string) => search.get(key) ?? "",
    /** Sets (or with `""` removes) a filter. */
    set,
    /** Whether any filter is set. */
    any: search.size > 0,
    /** The zero-based page. */
    page: Number(search.get("page") ?? "0") || 0,
    /** Goes to page `n`. */
    goTo: (n: number) => set("page", String(n)),
  };
}
