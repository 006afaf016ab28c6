import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, errorMessage, unwrap } from "../../api/client";
import { useClinicTimeZone } from "../../api/session";
import { Button } from "../../components/Button";
import {
  Card,
  EmptyState,
  ErrorState,
  Loaded,
  LoadingRows,
  PageHeader,
} from "../../components/States";
import {
  addDays,
  formatDay,
  formatTime,
  isDate,
  localDate,
  mondayOf,
  startOfLocalDay,
} from "../../lib/time";
import { useUrlFilters } from "../../lib/useUrlFilters";
import { AppointmentCard } from "./AppointmentCard";
import { type Appointment, useAvailability } from "./api";
import { BookDialog, type BookTarget } from "./BookDialog";

type View = "day" | "week";

/**
 * The clinic's calendar in its own time zone: a week (Monday first) or a day with its free
 * slots, bookings waiting for approval, and book / reschedule / cancel / remind.
 */
export function Appointments() {
  const { timeZone, known } = useClinicTimeZone();
  const filters = useUrlFilters("/appointments");
  const today = localDate(new Date(), timeZone);
  const view: View = filters.get("view") === "day" ? "day" : "week";
  const picked = isDate(filters.get("date")) ? filters.get("date") : today;
  const first = view === "week" ? mondayOf(picked) : picked;
  const days = Array.from({ length: view === "week" ? 7 : 1 }, (_, i) => addDays(first, i));
  const query = {
    from: startOfLocalDay(first, timeZone).toISOString(),
    to: startOfLocalDay(addDays(first, days.length), timeZone).toISOString(),
    limit: 500,
  };
  const list = useQuery({
    queryKey: ["appointments", query],
    enabled: known,
    queryFn: async () => unwrap(await api.GET("/api/appointments", { params: { query } })),
    placeholderData: keepPreviousData,
  });
  const [target, setTarget] = useState<BookTarget | null>(null);
  const step = view === "week" ? 7 : 1;
  const byDay = groupByLocalDay(list.data?.appointments ?? [], timeZone);
  const rangeLabel =
    view === "week" ? `${formatDay(first)} – ${formatDay(addDays(first, 6))}` : formatDay(first);
  return (
    <>
      <PageHeader
        title="Appointments"
        actions={
          <Button onClick={() => setTarget({ kind: "book", date: picked })}>
            Book appointment
          </Button>
        }
      />
      <PendingApprovals timeZone={timeZone} onReschedule={setTarget} />
      <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
        <div className="flex items-center gap-2">
          <Button variant="secondary" onClick={() => filters.set("date", addDays(first, -step))}>
            <span aria-hidden="true">←</span>
            <span className="sr-only">Previous {view}</span>
          </Button>
          <Button variant="secondary" onClick={() => filters.set("date", "")}>
            Today
          </Button>
          <Button variant="secondary" onClick={() => filters.set("date", addDays(first, step))}>
            <span aria-hidden="true">→</span>
            <span className="sr-only">Next {view}</span>
          </Button>
          <h2 className="ml-2 font-medium text-slate-900" aria-live="polite" data-testid="range">
            {rangeLabel}
          </h2>
        </div>
        <fieldset className="flex gap-1">
          <legend className="sr-only">Calendar view</legend>
          {(["day", "week"] as const).map((v) => (
            <Button
              key={v}
              variant={view === v ? "primary" : "secondary"}
              aria-pressed={view === v}
              onClick={() => {
                filters.set("view", v === "week" ? "" : v);
              }}
            >
              {v === "day" ? "Day" : "Week"}
            </Button>
          ))}
        </fieldset>
      </div>
      {list.isPending ? (
        <LoadingRows label="Loading appointments" />
      ) : list.error ? (
        <ErrorState message={errorMessage(list.error)} onRetry={() => list.refetch()} />
      ) : (
        <div
          className={view === "week" ? "grid gap-3 md:grid-cols-7" : "grid gap-6 lg:grid-cols-3"}
        >
          {days.map((day) => (
            <DayColumn
              key={day}
              day={day}
              isToday={day === today}
              appointments={byDay.get(day) ?? []}
              timeZone={timeZone}
              compact={view === "week"}
              onOpen={() => filters.update({ view: "day", date: day })}
              onReschedule={setTarget}
            />
          ))}
          {view === "day" ? (
            <FreeSlots
              day={first}
              timeZone={timeZone}
              onBook={(slot) => setTarget({ kind: "book", date: first, slot })}
            />
          ) : null}
        </div>
      )}
      {list.data && list.data.appointments.length === 0 ? (
        <div className="mt-4">
          <EmptyState
            title={view === "week" ? "Nothing booked this week" : "Nothing booked this day"}
          >
            Bookings made by the AI agent or here appear on the calendar.
          </EmptyState>
        </div>
      ) : null}
      <BookDialog target={target} onClose={() => setTarget(null)} />
    </>
  );
}

/** Appointments keyed by the clinic-local date they start on, in time order. */
function groupByLocalDay(all: Appointment[], timeZone: string): Map<string, Appointment[]> {
  const days = new Map<string, Appointment[]>();
  const sorted = [...all].sort((a, b) => a.scheduled_time.localeCompare(b.scheduled_time));
  for (const a of sorted) {
    const day = localDate(new Date(a.scheduled_time), timeZone);
    days.set(day, [...(days.get(day) ?? []), a]);
  }
  return days;
}

function DayColumn({
  day,
  isToday,
  appointments,
  timeZone,
  compact,
  onOpen,
  onReschedule,
}: {
  day: string;
  isToday: boolean;
  appointments: Appointment[];
  timeZone: string;
  compact: boolean;
  onOpen: () => void;
  onReschedule: (target: BookTarget) => void;
}) {
  return (
    <section
      aria-label={formatDay(day)}
      data-testid="calendar-day"
      className={
        compact
          ? "rounded-lg border border-slate-200 bg-white p-2"
          : "rounded-lg border border-slate-200 bg-white p-4 lg:col-span-2"
      }
    >
      <h3 className="mb-2 text-sm font-semibold text-slate-900">
        {compact ? (
          <button type="button" className="underline-offset-2 hover:underline" onClick={onOpen}>
            {formatDay(day)}
          </button>
        ) : (
          formatDay(day)
        )}
        {isToday ? <span className="ml-2 text-xs font-medium text-teal-800">today</span> : null}
      </h3>
      {appointments.length === 0 ? (
        <p className="text-xs text-slate-600">No appointments</p>
      ) : (
        <ul className="space-y-2">
          {appointments.map((a) => (
            <li key={a.id}>
              <AppointmentCard
                appointment={a}
                timeZone={timeZone}
                compact={compact}
                onReschedule={() => onReschedule({ kind: "reschedule", appointment: a })}
              />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The day's free starts for a general visit; choosing one opens the booking form on it. */
function FreeSlots({
  day,
  timeZone,
  onBook,
}: {
  day: string;
  timeZone: string;
  onBook: (slot: string) => void;
}) {
  const slots = useAvailability(day, undefined);
  return (
    <Card title="Free times">
      <Loaded
        query={slots}
        label="Loading free times"
        isEmpty={(d) => d.slots.length === 0}
        empty="No free time this day (closed or fully booked)."
      >
        {(data) => (
          <ul className="flex flex-wrap gap-2" data-testid="free-slots">
            {data.slots.map((slot) => (
              <li key={slot}>
                <Button variant="secondary" onClick={() => onBook(slot)}>
                  <span className="sr-only">Book at </span>
                  {formatTime(slot, timeZone)}
                </Button>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </Card>
  );
}

/** Upcoming bookings waiting for approval (the clinic's approval mode). */
function PendingApprovals({
  timeZone,
  onReschedule,
}: {
  timeZone: string;
  onReschedule: (target: BookTarget) => void;
}) {
  const [from] = useState(() => new Date().toISOString());
  const pending = useQuery({
    queryKey: ["appointments", { status: "pending", from }],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/appointments", {
          params: { query: { status: "pending", from, limit: 50 } },
        }),
      ),
  });
  if (!pending.data || pending.data.appointments.length === 0) return null;
  return (
    <Card title={`Waiting for approval (${pending.data.appointments.length})`} className="mb-4">
      <ul className="grid gap-2 md:grid-cols-2" data-testid="pending-approvals">
        {pending.data.appointments.map((a) => (
          <li key={a.id}>
            <AppointmentCard
              appointment={a}
              timeZone={timeZone}
              showDate
              onReschedule={() => onReschedule({ kind: "reschedule", appointment: a })}
            />
          </li>
        ))}
      </ul>
    </Card>
  );
}
