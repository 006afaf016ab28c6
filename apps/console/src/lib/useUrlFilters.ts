import { useLocation, useSearch } from "wouter";

/**
 * A list's filters and page kept in the address (`/calls?q=ann&page=2`): shareable and kept
 * across reloads. Changing a filter returns to the first page.
 */
export function useUrlFilters(path: string) {
  const search = new URLSearchParams(useSearch());
  const [, navigate] = useLocation();
  const update = (values: Record<string, string>) => {
    const next = new URLSearchParams(search);
    for (const [key, value] of Object.entries(values)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    if (!("page" in values)) next.delete("page");
    navigate(`${path}?${next.toString()}`, { replace: true });
  };
  return {
    /** The value of `key`, `""` when unset. */
    get: (key: string) => search.get(key) ?? "",
    /** Sets (or with `""` removes) a filter. */
    set: (key: string, value: string) => update({ [key]: value }),
    /** Sets several filters at once (`""` removes one). */
    update,
    /** Whether any filter is set. */
    any: search.size > 0,
    /** The zero-based page. */
    page: Number(search.get("page") ?? "0") || 0,
    /** Goes to page `n`. */
    goTo: (n: number) => update({ page: String(n) }),
  };
}
