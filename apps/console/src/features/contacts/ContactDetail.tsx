import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { Link } from "wouter";
import { ApiError, api, errorMessage, type Schemas, unwrap } from "../../api/client";
import { useTimeZone } from "../../api/session";
import { Button } from "../../components/Button";
import { SelectField, TextAreaField, TextField } from "../../components/Field";
import { Badge, Card, ErrorState, Loaded, LoadingRows, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import { formatPhone, UNKNOWN_CALLER } from "../../lib/phone";
import { formatDateTime, formatDuration } from "../../lib/time";
import { ActionLog, useRefreshActionLogs } from "../messages/ActionLog";
import {
  type ContactEditInput,
  type ContactEditOutput,
  contactEditSchema,
  LEAD_TEMPERATURES,
  reachableStages,
} from "./contactSchema";

type Contact = Schemas["ContactBody"];

/** One lead: details to edit, their calls, appointments and messages, and a call-back. */
export function ContactDetail({ id }: { id: string }) {
  const contact = useQuery({
    queryKey: ["contacts", "one", id],
    queryFn: async () => unwrap(await api.GET("/api/contacts/{id}", { params: { path: { id } } })),
  });
  if (contact.isPending) return <LoadingRows label="Loading the contact" />;
  if (contact.error)
    return <ErrorState message={errorMessage(contact.error)} onRetry={() => contact.refetch()} />;
  const c = contact.data.contact;
  return (
    <>
      <p className="mb-2 text-sm">
        <Link href="/contacts" className="text-teal-800 underline">
          ← All contacts
        </Link>
      </p>
      <PageHeader
        title={c.name === UNKNOWN_CALLER ? formatPhone(c.phone_number) : c.name}
        actions={<CallBack contact={c} />}
      />
      <div className="grid gap-6 lg:grid-cols-3">
        <div className="space-y-6 lg:col-span-2">
          <ContactCalls contactId={c.id} />
          <ContactAppointments contactId={c.id} />
          <ActionLog subject={{ contact_id: c.id }} title="Messages sent" />
        </div>
        <EditContact key={c.updated_at} contact={c} />
      </div>
    </>
  );
}

/**
 * Calls the contact back with the outbound AI agent. One `Idempotency-Key` per visit of the page:
 * a second press, a double press or a retry returns the first attempt (200 instead of 201) rather
 * than ringing the patient twice.
 */
function CallBack({ contact }: { contact: Contact }) {
  const toast = useToast();
  const [key] = useState(() => crypto.randomUUID());
  const call = useMutation({
    mutationFn: async () => {
      const result = await api.POST("/api/contacts/{id}/call-back", {
        params: { path: { id: contact.id }, header: { "Idempotency-Key": key } },
      });
      return { ...unwrap(result), repeated: result.response.status === 200 };
    },
    onSuccess: (r) => {
      toast({
        tone: "good",
        title: r.repeated ? "Already calling" : "Calling back",
        description: r.repeated
          ? `The call to ${formatPhone(r.phone)} is already ${r.status}.`
          : `The AI agent is calling ${formatPhone(r.phone)}.`,
      });
    },
    onError: (error) =>
      toast({ tone: "bad", title: "Call-back not placed", description: errorMessage(error) }),
  });
  return (
    <Button onClick={() => call.mutate()} disabled={call.isPending}>
      {call.isPending ? "Calling…" : "Call back"}
    </Button>
  );
}

function EditContact({ contact: c }: { contact: Contact }) {
  const toast = useToast();
  const queryClient = useQueryClient();
  const refreshLog = useRefreshActionLogs();
  const form = useForm<ContactEditInput, unknown, ContactEditOutput>({
    resolver: zodResolver(contactEditSchema),
    defaultValues: {
      name: c.name,
      phone: c.phone_number,
      email: c.email ?? "",
      company: c.company ?? "",
      lead_temperature: c.lead_temperature as ContactEditInput["lead_temperature"],
      lead_status: c.lead_status as ContactEditInput["lead_status"],
      lead_score: String(c.lead_score),
      notes: c.notes ?? "",
    },
  });
  const save = useMutation({
    mutationFn: async (v: ContactEditOutput) =>
      unwrap(
        await api.PATCH("/api/contacts/{id}", {
          params: { path: { id: c.id } },
          body: { ...v, email: v.email ?? undefined, notes: v.notes ?? "" },
        }),
      ),
    onSuccess: (r) => {
      queryClient.setQueryData(["contacts", "one", c.id], r);
      void queryClient.invalidateQueries({ queryKey: ["contacts"] });
      refreshLog();
      toast({ tone: "good", title: "Contact saved", description: r.contact.name });
    },
    onError: (error) => {
      if (error instanceof ApiError && error.code === "phone_taken")
        form.setError("phone", { message: error.message });
      else if (error instanceof ApiError && error.code === "invalid_transition")
        form.setError("lead_status", { message: error.message });
      else toast({ tone: "bad", title: "Not saved", description: errorMessage(error) });
    },
  });
  const { errors } = form.formState;
  return (
    <Card title="Details">
      <form noValidate className="space-y-3" onSubmit={form.handleSubmit((v) => save.mutate(v))}>
        <TextField label="Name" error={errors.name?.message} {...form.register("name")} />
        <TextField
          label="Phone"
          type="tel"
          error={errors.phone?.message}
          {...form.register("phone")}
        />
        <TextField
          label="Email"
          type="email"
          error={errors.email?.message}
          {...form.register("email")}
        />
        <TextField label="Company" error={errors.company?.message} {...form.register("company")} />
        <div className="grid grid-cols-2 gap-3">
          <SelectField
            label="Pipeline stage"
            options={reachableStages(c.lead_status).map((s) => ({ value: s, label: s }))}
            {...form.register("lead_status")}
          />
          <SelectField
            label="Temperature"
            options={LEAD_TEMPERATURES.map((t) => ({ value: t, label: t }))}
            {...form.register("lead_temperature")}
          />
        </div>
        {errors.lead_status ? (
          <p role="alert" className="text-xs font-medium text-red-700">
            {errors.lead_status.message}
          </p>
        ) : null}
        <TextField
          label="Lead score (0–100)"
          type="number"
          min={0}
          max={100}
          error={errors.lead_score?.message}
          {...form.register("lead_score")}
        />
        <TextAreaField
          label="Notes"
          rows={3}
          error={errors.notes?.message}
          {...form.register("notes")}
        />
        <p className="text-xs text-slate-600">
          Services asked about: {c.services_interested.join(", ") || "none yet"}
        </p>
        <Button type="submit" disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save contact"}
        </Button>
      </form>
    </Card>
  );
}

function ContactCalls({ contactId }: { contactId: string }) {
  const timeZone = useTimeZone();
  const calls = useQuery({
    queryKey: ["calls", "list", { contact_id: contactId }],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/calls-dashboard", {
          params: { query: { contact_id: contactId, limit: 20 } },
        }),
      ),
  });
  return (
    <Card title="Calls">
      <Loaded
        query={calls}
        label="Loading calls"
        isEmpty={(d) => d.calls.length === 0}
        empty="No calls with this contact yet."
      >
        {(data) => (
          <ul className="divide-y divide-slate-100 text-sm" data-testid="contact-calls">
            {data.calls.map((call) => (
              <li key={call.id} className="flex flex-wrap items-center gap-x-3 gap-y-1 py-2">
                <Link href={`/calls/${call.id}`} className="font-medium text-teal-800 underline">
                  {formatDateTime(call.created_at, timeZone)}
                </Link>
                <span className="text-slate-700">{call.call_type}</span>
                <span className="text-slate-700">{formatDuration(call.duration_seconds)}</span>
                {call.booking_confirmed ? (
                  <Badge tone="good">booked</Badge>
                ) : (
                  <span>{call.outcome ?? call.status}</span>
                )}
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </Card>
  );
}

function ContactAppointments({ contactId }: { contactId: string }) {
  const timeZone = useTimeZone();
  const appointments = useQuery({
    queryKey: ["appointments", { contact_id: contactId }],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/appointments", {
          params: { query: { contact_id: contactId, limit: 20 } },
        }),
      ),
  });
  return (
    <Card title="Appointments">
      <Loaded
        query={appointments}
        label="Loading appointments"
        isEmpty={(d) => d.appointments.length === 0}
        empty="No appointments yet."
      >
        {(data) => (
          <ul className="divide-y divide-slate-100 text-sm" data-testid="contact-appointments">
            {data.appointments.map((a) => (
              <li key={a.id} className="flex flex-wrap items-center gap-x-3 gap-y-1 py-2">
                <span className="font-medium">{formatDateTime(a.scheduled_time, timeZone)}</span>
                <span className="text-slate-700">{a.service_type ?? "General visit"}</span>
                <Badge
                  tone={a.status === "cancelled" ? "bad" : a.status === "pending" ? "warn" : "good"}
                >
                  {a.status}
                </Badge>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </Card>
  );
}
