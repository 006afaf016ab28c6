import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Link } from "wouter";
import { api, errorMessage, unwrap } from "../../api/client";
import { useTimeZone } from "../../api/session";
import { SelectField, TextField } from "../../components/Field";
import { Badge, EmptyState, ErrorState, LoadingRows, PageHeader } from "../../components/States";
import { Pager, ScrollTable } from "../../components/Table";
import { callerLabel } from "../../lib/phone";
import { formatDateTime, formatDuration, localDayRange } from "../../lib/time";
import { useUrlFilters } from "../../lib/useUrlFilters";
import { sentimentTone } from "./sentiment";

const PAGE = 25;

/** The call list, its filters kept in the address (shareable, survives a reload). */
export function CallsList() {
  const timeZone = useTimeZone();
  const filters = useUrlFilters("/calls");
  const { page } = filters;
  const fromDay = filters.get("from");
  const toDay = filters.get("to");
  const query = {
    search: filters.get("q") || undefined,
    call_type: filters.get("direction") || undefined,
    outcome: filters.get("outcome") || undefined,
    sentiment: filters.get("sentiment") || undefined,
    from: fromDay ? localDayRange(fromDay, timeZone).from.toISOString() : undefined,
    to: toDay ? localDayRange(toDay, timeZone).to.toISOString() : undefined,
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
          defaultValue={filters.get("q")}
          onChange={(e) => filters.set("q", e.target.value)}
        />
        <SelectField
          label="Direction"
          value={filters.get("direction")}
          onChange={(e) => filters.set("direction", e.target.value)}
          options={[
            { value: "", label: "All" },
            { value: "inbound", label: "Inbound" },
            { value: "outbound", label: "Outbound" },
          ]}
        />
        <SelectField
          label="Outcome"
          value={filters.get("outcome")}
          onChange={(e) => filters.set("outcome", e.target.value)}
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
          value={filters.get("sentiment")}
          onChange={(e) => filters.set("sentiment", e.target.value)}
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
          onChange={(e) => filters.set("from", e.target.value)}
        />
        <TextField
          label="To"
          type="date"
          value={toDay}
          onChange={(e) => filters.set("to", e.target.value)}
        />
      </search>
      {calls.isPending ? (
        <LoadingRows label="Loading calls" />
      ) : calls.error ? (
        <ErrorState message={errorMessage(calls.error)} onRetry={() => calls.refetch()} />
      ) : calls.data.calls.length === 0 ? (
        <EmptyState title={filters.any ? "No calls match these filters" : "No calls yet"}>
          {filters.any
            ? "Clear a filter to see more."
            : "When your AI agent answers its first call, it appears here within seconds."}
        </EmptyState>
      ) : (
        <>
          <ScrollTable label="Calls table" caption="Calls, newest first">
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
          </ScrollTable>
          <Pager
            summary={`${calls.data.pagination.offset + 1}–${calls.data.pagination.offset + calls.data.calls.length} of ${calls.data.pagination.total}`}
            page={page}
            hasMore={calls.data.pagination.has_more}
            onPage={filters.goTo}
          />
        </>
      )}
    </>
  );
}
