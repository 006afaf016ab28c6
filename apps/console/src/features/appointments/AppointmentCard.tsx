import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "wouter";
import { api, errorMessage, unwrap } from "../../api/client";
import { Button } from "../../components/Button";
import { Dialog } from "../../components/Dialog";
import { Badge } from "../../components/States";
import { useToast } from "../../components/Toast";
import { formatPhone } from "../../lib/phone";
import { formatDay, formatTime, localDate } from "../../lib/time";
import { type Appointment, useRefreshBookings } from "./api";

const STATUS_TONE = {
  pending: "warn",
  confirmed: "good",
  cancelled: "bad",
  completed: "info",
} as const;

/**
 * One appointment: time in the clinic's zone, customer, service, status. In the week grid it is
 * a button that opens the same details and actions in a dialog.
 */
export function AppointmentCard({
  appointment: a,
  timeZone,
  compact = false,
  showDate = false,
  onReschedule,
}: {
  appointment: Appointment;
  timeZone: string;
  compact?: boolean;
  showDate?: boolean;
  onReschedule: () => void;
}) {
  const [open, setOpen] = useState(false);
  const when = `${showDate ? `${formatDay(localDate(new Date(a.scheduled_time), timeZone))}, ` : ""}${formatTime(
    a.scheduled_time,
    timeZone,
  )}–${formatTime(a.ends_at, timeZone)}`;
  const summary = (
    <>
      <span className="block text-xs text-slate-700">{when}</span>
      <span
        className={
          a.status === "cancelled" ? "block font-medium line-through" : "block font-medium"
        }
      >
        {a.contact_name}
      </span>
      <span className="block text-xs text-slate-700">{a.service_type ?? "General visit"}</span>
      <Badge tone={STATUS_TONE[a.status as keyof typeof STATUS_TONE] ?? "neutral"}>
        {a.status}
      </Badge>
    </>
  );
  if (compact)
    return (
      <>
        <button
          type="button"
          data-testid="appointment"
          onClick={() => setOpen(true)}
          className="w-full rounded-md border border-slate-200 bg-slate-50 p-2 text-left text-sm hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-teal-700"
        >
          {summary}
        </button>
        <Dialog open={open} onOpenChange={setOpen} title={a.contact_name} description={when}>
          <Details appointment={a} />
          <Actions
            appointment={a}
            onReschedule={() => {
              setOpen(false);
              onReschedule();
            }}
            onDone={() => setOpen(false)}
          />
        </Dialog>
      </>
    );
  return (
    <div data-testid="appointment" className="rounded-md border border-slate-200 p-3 text-sm">
      {summary}
      <Details appointment={a} />
      <Actions appointment={a} onReschedule={onReschedule} onDone={() => undefined} />
    </div>
  );
}

function Details({ appointment: a }: { appointment: Appointment }) {
  return (
    <dl className="mt-2 grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-xs text-slate-700">
      <dt>Phone</dt>
      <dd>{a.contact_phone ? formatPhone(a.contact_phone) : "—"}</dd>
      <dt>Booked by</dt>
      <dd>{a.source === "voice_agent" ? "AI agent" : "Front desk"}</dd>
      <dt>Reminder</dt>
      <dd>{a.confirmation_sent ? "sent" : "not sent"}</dd>
      {a.contact_id ? (
        <>
          <dt>Contact</dt>
          <dd>
            <Link href={`/contacts/${a.contact_id}`} className="text-teal-800 underline">
              Open contact
            </Link>
          </dd>
        </>
      ) : null}
    </dl>
  );
}

/** Approve, reschedule, cancel (confirmed first) and send a reminder by SMS or email. */
function Actions({
  appointment: a,
  onReschedule,
  onDone,
}: {
  appointment: Appointment;
  onReschedule: () => void;
  onDone: () => void;
}) {
  const toast = useToast();
  const refresh = useRefreshBookings();
  const [confirmCancel, setConfirmCancel] = useState(false);
  const path = { params: { path: { id: a.id } } };
  const done = (title: string) => () => {
    refresh();
    toast({ tone: "good", title, description: a.contact_name });
    onDone();
  };
  const failed = (title: string) => (error: unknown) => {
    refresh();
    toast({ tone: "bad", title, description: errorMessage(error) });
  };
  const approve = useMutation({
    mutationFn: async () =>
      unwrap(await api.PATCH("/api/appointments/{id}", { ...path, body: { status: "confirmed" } })),
    onSuccess: done("Appointment approved"),
    onError: failed("Not approved"),
  });
  const cancel = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/appointments/{id}/cancel", path)),
    onSuccess: done("Appointment cancelled"),
    onError: failed("Not cancelled"),
  });
  const remind = useMutation({
    mutationFn: async (method: "sms" | "email") =>
      unwrap(
        await api.POST("/api/appointments/{appointmentId}/send-reminder", {
          params: { path: { appointmentId: a.id } },
          body: { method },
        }),
      ),
    onSuccess: (r) => {
      refresh();
      toast({
        tone: "good",
        title: "Reminder sent",
        description: `${r.method.toUpperCase()} to ${r.recipient}`,
      });
    },
    onError: failed("Reminder not sent"),
  });
  if (a.status === "cancelled" || a.status === "completed") return null;
  return (
    <div className="mt-3 flex flex-wrap gap-2">
      {a.status === "pending" ? (
        <Button onClick={() => approve.mutate()} disabled={approve.isPending}>
          Approve
        </Button>
      ) : null}
      <Button variant="secondary" onClick={onReschedule}>
        Reschedule
      </Button>
      {(
        [
          ["sms", a.contact_phone, "Remind by SMS"],
          ["email", a.contact_email, "Remind by email"],
        ] as const
      ).map(([method, to, label]) =>
        to ? (
          <Button
            key={method}
            variant="secondary"
            onClick={() => remind.mutate(method)}
            disabled={remind.isPending}
          >
            {label}
          </Button>
        ) : null,
      )}
      {confirmCancel ? (
        <fieldset className="flex flex-wrap items-center gap-2">
          <legend className="sr-only">Confirm cancellation</legend>
          <span className="text-sm text-slate-800">Cancel this appointment?</span>
          <Button variant="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            Yes, cancel it
          </Button>
          <Button variant="ghost" onClick={() => setConfirmCancel(false)}>
            Keep it
          </Button>
        </fieldset>
      ) : (
        <Button variant="ghost" onClick={() => setConfirmCancel(true)}>
          {a.status === "pending" ? "Decline" : "Cancel"}
        </Button>
      )}
    </div>
  );
}
