import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { ApiError, api, errorMessage, unwrap } from "../../api/client";
import { useTimeZone } from "../../api/session";
import { Button } from "../../components/Button";
import { Dialog } from "../../components/Dialog";
import { SelectField, TextAreaField, TextField } from "../../components/Field";
import { useToast } from "../../components/Toast";
import { formatDateTime, formatTime, localDate } from "../../lib/time";
import { type Appointment, useActiveServices, useAvailability, useRefreshBookings } from "./api";
import { type BookingInput, type BookingOutput, bookingSchema, slotTaken } from "./bookingSchema";

/** What the dialog opens on: a new booking (optionally at a chosen slot) or a reschedule. */
export type BookTarget =
  | { kind: "book"; date: string; slot?: string }
  | { kind: "reschedule"; appointment: Appointment };

/**
 * Books or reschedules. Free times come from availability for the chosen day and service; when
 * another booking takes the slot first, the API's `slot_taken` alternatives are offered inline
 * and one press books the one chosen.
 */
export function BookDialog({
  target,
  onClose,
}: {
  target: BookTarget | null;
  onClose: () => void;
}) {
  return (
    <Dialog
      open={target !== null}
      onOpenChange={(open) => (open ? undefined : onClose())}
      title={target?.kind === "reschedule" ? "Reschedule appointment" : "Book appointment"}
      description={
        target?.kind === "reschedule"
          ? `${target.appointment.contact_name} · ${target.appointment.service_type ?? "visit"}`
          : "Times are the clinic's, from its business hours and existing bookings."
      }
    >
      {target ? <BookForm key={JSON.stringify(target)} target={target} onDone={onClose} /> : null}
    </Dialog>
  );
}

function BookForm({ target, onDone }: { target: BookTarget; onDone: () => void }) {
  const toast = useToast();
  const timeZone = useTimeZone();
  const refresh = useRefreshBookings();
  const services = useActiveServices();
  const rescheduling = target.kind === "reschedule" ? target.appointment : null;
  const form = useForm<BookingInput, unknown, BookingOutput>({
    resolver: zodResolver(bookingSchema(rescheduling !== null)),
    defaultValues: {
      name: "",
      phone: "",
      email: "",
      service_id: rescheduling?.service_id ?? "",
      date: rescheduling
        ? localDate(new Date(rescheduling.scheduled_time), timeZone)
        : target.kind === "book"
          ? target.date
          : "",
      slot: target.kind === "book" ? (target.slot ?? "") : "",
      notes: "",
    },
  });
  const [alternatives, setAlternatives] = useState<string[]>([]);
  const date = form.watch("date");
  const serviceId = form.watch("service_id");
  const slots = useAvailability(date, serviceId || undefined);
  const save = useMutation({
    mutationFn: async (v: BookingOutput) => {
      if (rescheduling)
        return unwrap(
          await api.POST("/api/appointments/{id}/reschedule", {
            params: { path: { id: rescheduling.id } },
            body: { scheduled_time: v.slot },
          }),
        );
      return unwrap(
        await api.POST("/api/appointments", {
          body: {
            customer_name: v.name,
            customer_phone: v.phone,
            customer_email: v.email,
            service_id: v.service_id,
            scheduled_time: v.slot,
            notes: v.notes,
          },
        }),
      );
    },
    onSuccess: (result) => {
      refresh();
      const a = result.appointment;
      toast({
        tone: "good",
        title: rescheduling ? "Appointment moved" : "Appointment booked",
        description: `${a.contact_name}, ${formatDateTime(a.scheduled_time, timeZone)}${
          a.status === "pending" ? " (waiting for approval)" : ""
        }`,
      });
      onDone();
    },
    onError: (error) => {
      const offered = slotTaken(error);
      if (offered) {
        setAlternatives(offered);
        void slots.refetch();
        return;
      }
      if (error instanceof ApiError && error.code === "validation_failed")
        form.setError("root", { message: error.message });
      else toast({ tone: "bad", title: "Not booked", description: errorMessage(error) });
    },
  });
  const submit = form.handleSubmit((v) => {
    setAlternatives([]);
    save.mutate(v);
  });
  const pickAlternative = (slot: string) => {
    form.setValue("date", localDate(new Date(slot), timeZone));
    form.setValue("slot", slot);
    void submit();
  };
  const chosen = form.watch("slot");
  const slotOptions = (slots.data?.slots ?? []).map((s) => ({
    value: s,
    label: formatTime(s, timeZone),
  }));
  if (chosen && !slotOptions.some((o) => o.value === chosen))
    slotOptions.unshift({ value: chosen, label: formatTime(chosen, timeZone) });
  const { errors } = form.formState;
  return (
    <form noValidate className="space-y-3" onSubmit={submit}>
      {rescheduling ? null : (
        <>
          <TextField label="Name" error={errors.name?.message} {...form.register("name")} />
          <div className="grid gap-3 sm:grid-cols-2">
            <TextField
              label="Phone"
              type="tel"
              error={errors.phone?.message}
              {...form.register("phone")}
            />
            <TextField
              label="Email (optional)"
              type="email"
              error={errors.email?.message}
              {...form.register("email")}
            />
          </div>
          <SelectField
            label="Service"
            options={[
              { value: "", label: services.isPending ? "Loading services…" : "General visit" },
              ...(services.data ?? []).map((s) => ({
                value: s.id,
                label: `${s.name} (${s.duration_minutes} min)`,
              })),
            ]}
            {...form.register("service_id", { onChange: () => form.setValue("slot", "") })}
          />
        </>
      )}
      <div className="grid gap-3 sm:grid-cols-2">
        <TextField
          label="Day"
          type="date"
          error={errors.date?.message}
          {...form.register("date", { onChange: () => form.setValue("slot", "") })}
        />
        <SelectField
          label="Time"
          aria-invalid={errors.slot ? true : undefined}
          options={[
            {
              value: "",
              label: slots.isFetching
                ? "Finding free times…"
                : slotOptions.length === 0
                  ? "No free time this day"
                  : "Choose a time",
            },
            ...slotOptions,
          ]}
          {...form.register("slot")}
        />
      </div>
      {errors.slot ? (
        <p role="alert" className="text-xs font-medium text-red-700">
          {errors.slot.message}
        </p>
      ) : null}
      {slots.error ? (
        <p role="alert" className="text-xs font-medium text-red-700">
          {errorMessage(slots.error)}
        </p>
      ) : null}
      {rescheduling ? null : (
        <TextAreaField label="Notes (optional)" rows={2} {...form.register("notes")} />
      )}
      {alternatives.length > 0 ? (
        <div role="alert" className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm">
          <p className="font-medium text-amber-900">
            That time was just taken. The next free times:
          </p>
          <div className="mt-2 flex flex-wrap gap-2" data-testid="alternatives">
            {alternatives.map((slot) => (
              <Button key={slot} variant="secondary" onClick={() => pickAlternative(slot)}>
                {formatDateTime(slot, timeZone)}
              </Button>
            ))}
          </div>
        </div>
      ) : null}
      {errors.root ? (
        <p role="alert" className="text-sm font-medium text-red-700">
          {errors.root.message}
        </p>
      ) : null}
      <div className="flex justify-end gap-2">
        <Button variant="secondary" onClick={onDone}>
          Close
        </Button>
        <Button type="submit" disabled={save.isPending || chosen === ""}>
          {save.isPending ? "Saving…" : rescheduling ? "Move appointment" : "Book"}
        </Button>
      </div>
    </form>
  );
}
