import { useQuery } from "@tanstack/react-query";
import { Link } from "wouter";
import { api, errorMessage, unwrap } from "../../api/client";
import { useClinicCurrency } from "../../api/clinic";
import { useClinicTimeZone, useTimeZone } from "../../api/session";
import {
  Badge,
  Card,
  EmptyState,
  ErrorState,
  LoadingRows,
  PageHeader,
  Skeleton,
} from "../../components/States";
import { formatMoney } from "../../lib/money";
import { callerLabel, formatPhone } from "../../lib/phone";
import {
  formatDateTime,
  formatDuration,
  formatTime,
  localDate,
  localDayRange,
} from "../../lib/time";

/** Seed 001's dashboard: the cards, recent activity, today's appointments, hot leads. */
export function Dashboard() {
  return (
    <>
      <PageHeader title="Dashboard" />
      <StatCards />
      <div className="mt-6 grid gap-6 lg:grid-cols-2">
        <RecentActivity />
        <TodaysAppointments />
      </div>
      <HotLeads />
    </>
  );
}

function useStats() {
  return useQuery({
    queryKey: ["stats", "calls"],
    queryFn: async () => unwrap(await api.GET("/api/calls-dashboard/stats")),
  });
}

function StatCards() {
  const stats = useStats();
  const leads = useQuery({
    queryKey: ["stats", "contacts"],
    queryFn: async () => unwrap(await api.GET("/api/contacts/stats")),
  });
  const currency = useClinicCurrency();
  if (stats.error)
    return <ErrorState message={errorMessage(stats.error)} onRetry={() => stats.refetch()} />;
  const s = stats.data;
  const cards = [
    {
      label: "Calls",
      value: s ? String(s.total_calls) : null,
      note: s ? `${s.inbound_calls} inbound` : "",
    },
    {
      label: "Success rate",
      value: s ? `${Math.round(s.success_rate)}%` : null,
      note: s ? `${s.bookings} booked` : "",
    },
    {
      label: "Average duration",
      value: s ? formatDuration(s.average_duration_seconds) : null,
      note: "per call",
    },
    {
      label: "Pipeline value",
      value: s ? formatMoney(s.pipeline_value_minor, currency) : null,
      note: "booked services",
    },
    {
      label: "Hot leads",
      value: leads.data ? String(leads.data.hot_leads) : null,
      note: leads.data ? `of ${leads.data.total_leads} leads` : "",
    },
  ];
  return (
    <ul className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-5">
      {cards.map((card) => (
        <li key={card.label} className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
          <p className="text-sm text-slate-600">{card.label}</p>
          {card.value === null ? (
            <Skeleton className="mt-2 h-7 w-20" />
          ) : (
            <p
              className="mt-1 text-2xl font-semibold text-slate-900"
              data-testid={`stat-${card.label}`}
            >
              {card.value}
            </p>
          )}
          <p className="text-xs text-slate-600">{card.note}</p>
        </li>
      ))}
    </ul>
  );
}

function RecentActivity() {
  const stats = useStats();
  const timeZone = useTimeZone();
  return (
    <Card title="Recent activity">
      {stats.isPending ? (
        <LoadingRows rows={4} />
      ) : stats.error ? (
        <ErrorState message={errorMessage(stats.error)} onRetry={() => stats.refetch()} />
      ) : stats.data.recent_activity.length === 0 ? (
        <EmptyState title="No calls yet">
          Calls your AI agent answers appear here as they happen.
        </EmptyState>
      ) : (
        <ul className="divide-y divide-slate-100">
          {stats.data.recent_activity.map((event) => (
            <li key={event.id} className="flex items-center justify-between gap-3 py-2 text-sm">
              <Link
                href={`/calls/${event.id}`}
                className="min-w-0 truncate font-medium text-teal-900 underline-offset-2 hover:underline"
              >
                {callerLabel(event.caller_name, event.phone_number)}
              </Link>
              <span className="flex shrink-0 items-center gap-2">
                {event.outcome ? <Badge>{event.outcome}</Badge> : null}
                <span className="text-slate-600">{formatDateTime(event.timestamp, timeZone)}</span>
              </span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

function TodaysAppointments() {
  const { timeZone, known } = useClinicTimeZone();
  const { from, to } = localDayRange(localDate(new Date(), timeZone), timeZone);
  const query = { from: from.toISOString(), to: to.toISOString() };
  const appointments = useQuery({
    queryKey: ["appointments", query],
    enabled: known,
    queryFn: async () => unwrap(await api.GET("/api/appointments", { params: { query } })),
  });
  return (
    <Card title="Today's appointments">
      {appointments.isPending ? (
        <LoadingRows rows={3} />
      ) : appointments.error ? (
        <ErrorState
          message={errorMessage(appointments.error)}
          onRetry={() => appointments.refetch()}
        />
      ) : appointments.data.appointments.length === 0 ? (
        <EmptyState title="Nothing booked today">
          Bookings made by the agent or the front desk show here.
        </EmptyState>
      ) : (
        <ul className="divide-y divide-slate-100">
          {appointments.data.appointments.map((a) => (
            <li key={a.id} className="flex items-center justify-between gap-3 py-2 text-sm">
              <span className="min-w-0 truncate">
                <span className="font-medium">{formatTime(a.scheduled_at, timeZone)}</span>{" "}
                {a.contact_name}
                {a.service_type ? (
                  <span className="text-slate-600"> · {a.service_type}</span>
                ) : null}
              </span>
              <Badge
                tone={
                  a.status === "cancelled" ? "bad" : a.status === "confirmed" ? "good" : "neutral"
                }
              >
                {a.status}
              </Badge>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

function HotLeads() {
  const query = { lead_temperature: "hot", limit: 5 };
  const leads = useQuery({
    queryKey: ["contacts", query],
    queryFn: async () => unwrap(await api.GET("/api/contacts", { params: { query } })),
  });
  return (
    <Card title="Hot leads" className="mt-6">
      {leads.isPending ? (
        <LoadingRows rows={3} />
      ) : leads.error ? (
        <ErrorState message={errorMessage(leads.error)} onRetry={() => leads.refetch()} />
      ) : leads.data.contacts.length === 0 ? (
        <EmptyState title="No hot leads">
          Callers who ask to book or about prices are scored hot.
        </EmptyState>
      ) : (
        <ul className="divide-y divide-slate-100">
          {leads.data.contacts.map((c) => (
            <li key={c.id} className="flex items-center justify-between gap-3 py-2 text-sm">
              <span className="font-medium">{callerLabel(c.name, c.phone_number)}</span>
              <span className="text-slate-600">
                {formatPhone(c.phone_number)} · {c.lead_status} · score {c.lead_score}
              </span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
