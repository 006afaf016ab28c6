import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useFieldArray, useForm } from "react-hook-form";
import { api, errorMessage, type Schemas, unwrap } from "../../api/client";
import { useSession } from "../../api/session";
import { Button } from "../../components/Button";
import { CheckboxField, SelectField, TextField } from "../../components/Field";
import { Card, ErrorState, LoadingRows, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import { type HoursInput, type HoursOutput, hoursSchema, WEEKDAYS } from "./hoursSchema";

type Settings = Schemas["SchedulingSettingsBody"];

/** Every IANA zone the browser knows, for the time-zone choice. */
const ZONES: string[] = Intl.supportedValuesOf("timeZone");

/**
 * When the clinic takes bookings: its time zone, weekly opening windows, closed dates, the
 * buffer after each visit, the grid of offered start times, and whether bookings wait for
 * approval. The AI agent and the calendar both offer slots from these.
 */
export function BusinessHours() {
  const settings = useQuery({
    queryKey: ["scheduling", "settings"],
    queryFn: async () => unwrap(await api.GET("/api/scheduling/settings")),
  });
  return (
    <>
      <PageHeader title="Business hours" />
      {settings.isPending ? (
        <LoadingRows label="Loading business hours" />
      ) : settings.error ? (
        <ErrorState message={errorMessage(settings.error)} onRetry={() => settings.refetch()} />
      ) : (
        <HoursForm settings={settings.data.settings} />
      )}
    </>
  );
}

function toInput(s: Settings): HoursInput {
  return {
    time_zone: s.time_zone,
    business_hours: s.business_hours.map((w) => ({ ...w, weekday: String(w.weekday) })),
    closures: (s.closures ?? []).map((date) => ({ date })),
    buffer_minutes: String(s.buffer_minutes ?? 0),
    slot_step_minutes: String(s.slot_step_minutes ?? 30),
    require_approval: s.require_approval ?? false,
  };
}

function HoursForm({ settings }: { settings: Settings }) {
  const toast = useToast();
  const queryClient = useQueryClient();
  const { me } = useSession();
  const canEdit = me?.user.role === "admin" || me?.user.role === "manager";
  const form = useForm<HoursInput, unknown, HoursOutput>({
    resolver: zodResolver(hoursSchema),
    defaultValues: toInput(settings),
  });
  const windows = useFieldArray({ control: form.control, name: "business_hours" });
  const closures = useFieldArray({ control: form.control, name: "closures" });
  const save = useMutation({
    mutationFn: async (body: HoursOutput) =>
      unwrap(await api.PUT("/api/scheduling/settings", { body })),
    onSuccess: (r) => {
      queryClient.setQueryData(["scheduling", "settings"], r);
      void queryClient.invalidateQueries({ queryKey: ["availability"] });
      form.reset(toInput(r.settings));
      toast({ tone: "good", title: "Business hours saved" });
    },
    onError: (error) =>
      toast({ tone: "bad", title: "Not saved", description: errorMessage(error) }),
  });
  const { errors } = form.formState;
  return (
    <form noValidate onSubmit={form.handleSubmit((v) => save.mutate(v))}>
      <fieldset disabled={!canEdit || save.isPending} className="space-y-6">
        {canEdit ? null : (
          <p className="text-sm text-slate-700">Only managers and admins can change these.</p>
        )}
        <Card title="Time zone">
          <SelectField
            label="Clinic time zone"
            className="max-w-sm"
            options={(ZONES.includes(settings.time_zone)
              ? ZONES
              : [settings.time_zone, ...ZONES]
            ).map((z) => ({ value: z, label: z }))}
            {...form.register("time_zone")}
          />
        </Card>
        <Card title="Opening hours">
          {windows.fields.length === 0 ? (
            <p className="mb-3 text-sm text-slate-700">
              Closed every day: add the hours the clinic opens.
            </p>
          ) : (
            <ul className="mb-3 space-y-3" data-testid="windows">
              {windows.fields.map((field, i) => (
                <li key={field.id} className="grid items-end gap-2 sm:grid-cols-[1fr_1fr_1fr_auto]">
                  <SelectField
                    label="Day"
                    options={WEEKDAYS.map(([n, name]) => ({ value: String(n), label: name }))}
                    {...form.register(`business_hours.${i}.weekday`)}
                  />
                  <TextField
                    label="Opens"
                    type="time"
                    error={errors.business_hours?.[i]?.opens?.message}
                    {...form.register(`business_hours.${i}.opens`)}
                  />
                  <TextField
                    label="Closes"
                    type="time"
                    error={errors.business_hours?.[i]?.closes?.message}
                    {...form.register(`business_hours.${i}.closes`)}
                  />
                  <Button variant="ghost" onClick={() => windows.remove(i)}>
                    Remove<span className="sr-only"> window {i + 1}</span>
                  </Button>
                </li>
              ))}
            </ul>
          )}
          <Button
            variant="secondary"
            onClick={() => windows.append({ weekday: "1", opens: "09:00", closes: "17:00" })}
          >
            Add opening window
          </Button>
        </Card>
        <Card title="Closed dates">
          {closures.fields.length === 0 ? (
            <p className="mb-3 text-sm text-slate-700">No closures planned.</p>
          ) : (
            <ul className="mb-3 flex flex-wrap gap-3">
              {closures.fields.map((field, i) => (
                <li key={field.id} className="flex items-end gap-2">
                  <TextField
                    label={`Closure ${i + 1}`}
                    type="date"
                    error={errors.closures?.[i]?.date?.message}
                    {...form.register(`closures.${i}.date`)}
                  />
                  <Button variant="ghost" onClick={() => closures.remove(i)}>
                    Remove<span className="sr-only"> closure {i + 1}</span>
                  </Button>
                </li>
              ))}
            </ul>
          )}
          <Button variant="secondary" onClick={() => closures.append({ date: "" })}>
            Add closed date
          </Button>
        </Card>
        <Card title="Booking rules">
          <div className="grid gap-3 sm:grid-cols-2">
            <TextField
              label="Buffer after each visit (minutes)"
              type="number"
              min={0}
              max={240}
              error={errors.buffer_minutes?.message}
              {...form.register("buffer_minutes")}
            />
            <TextField
              label="Offer a start every (minutes)"
              type="number"
              min={5}
              max={240}
              error={errors.slot_step_minutes?.message}
              {...form.register("slot_step_minutes")}
            />
          </div>
          <CheckboxField
            className="mt-4"
            label="Bookings wait for approval"
            hint="New bookings stay pending until someone approves them on the calendar."
            {...form.register("require_approval")}
          />
        </Card>
        {canEdit ? (
          <div className="flex justify-end gap-2">
            <Button variant="secondary" onClick={() => form.reset(toInput(settings))}>
              Discard changes
            </Button>
            <Button type="submit">{save.isPending ? "Saving…" : "Save business hours"}</Button>
          </div>
        ) : null}
      </fieldset>
    </form>
  );
}
