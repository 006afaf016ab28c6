import type { ReactNode } from "react";
import { Button } from "./Button";

/** A table in a keyboard-scrollable region (phone widths scroll it sideways). */
export function ScrollTable({
  label,
  caption,
  children,
}: {
  label: string;
  caption: string;
  children: ReactNode;
}) {
  return (
    <section
      aria-label={label}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1)
      tabIndex={0}
      className="overflow-x-auto rounded-lg border border-slate-200 bg-white"
    >
      <table className="w-full text-left text-sm">
        <caption className="sr-only">{caption}</caption>
        {children}
      </table>
    </section>
  );
}

/** Previous / next under a list, with what is shown (`summary`). */
export function Pager({
  summary,
  page,
  hasMore,
  onPage,
}: {
  summary: ReactNode;
  page: number;
  hasMore: boolean;
  onPage: (page: number) => void;
}) {
  return (
    <nav aria-label="Pages" className="mt-3 flex items-center justify-between text-sm">
      <span>{summary}</span>
      <span className="flex gap-2">
        <Button variant="secondary" disabled={page === 0} onClick={() => onPage(page - 1)}>
          Previous
        </Button>
        <Button variant="secondary" disabled={!hasMore} onClick={() => onPage(page + 1)}>
          Next
        </Button>
      </span>
    </nav>
  );
}
