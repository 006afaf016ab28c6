import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Link, useLocation, useSearch } from "wouter";
import { api, errorMessage, unwrap } from "../../api/client";
import { useTimeZone } from "../../api/session";
import { Button } from "../../components/Button";
import { SelectField, TextField } from "../../components/Field";
import { Badge, EmptyState, ErrorState, LoadingRows, PageHeader } from "../../components/States";
import { callerLabel } from "../../lib/phone";
import { formatDateTime, formatDuration, startOfLocalDay } from "../../lib/time";
import { sentimentTone } from "./sentiment";

const PAGE = 25;

/** The call list, its filters kept in the address (shareable, survives a reload). */
export function CallsList() {
  const timeZone = useTimeZone();
  const search = new URLSearchParams(useSearch());
  const [, navigate] = useLocation();
  const setFilter = (key: string, value: string) => {
    const next = new URLSearchParams(search);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== "page") next.delete("page");
    navigate(`/calls?${next.toString()}`, { replace: true });
  };
  const page = Number(search.get("page") ?? "0") || 0;
  const fromDay = search.get("from") ?? "";
  const toDay = search.get("to") ?? "";
  const query = {
    search: search.get("q") || undefined,
    call_type: search.get("direction") || undefined,
    outcome: search.get("outcome") || undefined,
    sentiment: search.get("sentiment") || undefined,
    contact_id: search.get("contact") || undefined,
    from: fromDay ? startOfLocalDay(fromDay, timeZone).toISOString() : undefined,
    to: toDay
      ? new Date(startOfLocalDay(toDay, timeZone).getTime() + 86_400_000).toISOString()
      : undefined,
    limit: PAGE,
    offset: page * PAGE,
  };
  const calls = useQuery({
    queryKey: ["calls", "list", query],
    queryFn: async () => unwrap(await api.GET("/api/calls-dashboard", { params: { query } })),
    placeholderData: keepPreviousData,
  });
  return (
    <>
      <PageHeader title="Calls" />
      <search aria-label="Filter calls" className="mb-4 grid gap-3 sm:grid-cols-2 lg:grid-cols-6">
        <TextField
          label="Search name or number"
          defaultValue={search.get("q") ?? ""}
          onChange={(e) => setFilter("q", e.target.value)}
        />
        <SelectField
          label="Direction"
          value={search.get("direction") ?? ""}
          onChange={(e) => setFilter("direction", e.target.value)}
          options={[
            { value: "", label: "All" },
            { value: "inbound", label: "Inbound" },
            { value: "outbound", label: "Outbound" },
          ]}
        />
        <SelectField
          label="Outcome"
          value={search.get("outcome") ?? ""}
          onChange={(e) => setFilter("outcome", e.target.value)}
          options={[
            { value: "", label: "All" },
            { value: "booked", label: "Booked" },
            { value: "completed", label: "Completed" },
            { value: "transferred", label: "Transferred" },
            { value: "failed", label: "Failed" },
          ]}
        />
        <SelectField
          label="Sentiment"
          value={search.get("sentiment") ?? ""}
          onChange={(e) => setFilter("sentiment", e.target.value)}
          options={[
            { value: "", label: "All" },
            { value: "positive", label: "Positive" },
            { value: "neutral", label: "Neutral" },
            { value: "negative", label: "Negative" },
          ]}
        />
        <TextField
          label="From"
          type="date"
          value={fromDay}
          onChange={(e) => setFilter("from", e.target.value)}
        />
        <TextField
          label="To"
          type="date"
          value={toDay}
          onChange={(e) => setFilter("to", e.target.value)}
        />
      </search>
      {calls.isPending ? (
        <LoadingRows label="Loading calls" />
      ) : calls.error ? (
        <ErrorState message={errorMessage(calls.error)} onRetry={() => calls.refetch()} />
      ) : calls.data.calls.length === 0 ? (
        <EmptyState title={search.size > 0 ? "No calls match these filters" : "No calls yet"}>
          {search.size > 0
            ? "Clear a filter to see more."
            : "When your AI agent answers its first call, it appears here within seconds."}
        </EmptyState>
      ) : (
        <>
          <section
            aria-label="Calls table"
            // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1)
            tabIndex={0}
            className="overflow-x-auto rounded-lg border border-slate-200 bg-white"
          >
            <table className="w-full text-left text-sm">
              <caption className="sr-only">Calls, newest first</caption>
              <thead className="bg-slate-50 text-slate-700">
                <tr>
                  <th scope="col" className="px-3 py-2">
                    Caller
                  </th>
                  <th scope="col" className="px-3 py-2">
                    When
                  </th>
                  <th scope="col" className="px-3 py-2">
                    Direction
                  </th>
                  <th scope="col" className="px-3 py-2">
                    Duration
                  </th>
                  <th scope="col" className="px-3 py-2">
                    Outcome
                  </th>
                  <th scope="col" className="px-3 py-2">
                    Sentiment
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {calls.data.calls.map((call) => (
                  <tr key={call.id} data-testid="call-row">
                    <td className="px-3 py-2 whitespace-nowrap">
                      <Link
                        href={`/calls/${call.id}`}
                        className="font-medium text-teal-900 underline-offset-2 hover:underline"
                      >
                        {callerLabel(call.caller_name, call.from_number ?? call.phone_number)}
                      </Link>
                    </td>
                    <td className="px-3 py-2 whitespace-nowrap">
                      {formatDateTime(call.created_at, timeZone)}
                    </td>
                    <td className="px-3 py-2">{call.call_type}</td>
                    <td className="px-3 py-2">{formatDuration(call.duration_seconds)}</td>
                    <td className="px-3 py-2">
                      {call.booking_confirmed ? (
                        <Badge tone="good">booked</Badge>
                      ) : call.outcome ? (
                        <Badge>{call.outcome}</Badge>
                      ) : (
                        call.status
                      )}
                    </td>
                    <td className="px-3 py-2">
                      {call.sentiment ? (
                        <Badge tone={sentimentTone(call.sentiment)}>{call.sentiment}</Badge>
                      ) : (
                        "—"
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <nav aria-label="Pages" className="mt-3 flex items-center justify-between text-sm">
            <span>
              {calls.data.pagination.offset + 1}–
              {calls.data.pagination.offset + calls.data.calls.length} of{" "}
              {calls.data.pagination.total}
            </span>
            <span className="flex gap-2">
              <Button
                variant="secondary"
                disabled={page === 0}
                onClick={() => setFilter("page", String(page - 1))}
              >
                Previous
              </Button>
              <Button
                variant="secondary"
                disabled={!calls.data.pagination.has_more}
                onClick={() => setFilter("page", String(page + 1))}
              >
                Next
              </Button>
            </span>
          </nav>
        </>
      )}
    </>
  );
}
