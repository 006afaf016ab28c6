import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { ApiError, api, errorMessage, type Schemas, unwrap } from "../../api/client";
import { useClinicCurrency } from "../../api/clinic";
import { useSession } from "../../api/session";
import { Button } from "../../components/Button";
import { Dialog } from "../../components/Dialog";
import { CheckboxField, TextField } from "../../components/Field";
import { Badge, EmptyState, ErrorState, LoadingRows, PageHeader } from "../../components/States";
import { ScrollTable } from "../../components/Table";
import { useToast } from "../../components/Toast";
import { formatMoney, minorDigits } from "../../lib/money";
import { type ServiceInput, type ServiceOutput, serviceSchema } from "./serviceSchema";

type Service = Schemas["ServiceBody"];

/**
 * The pricing engine (seed 001 §16): services with their price in the clinic's currency, visit
 * length and the keywords that match them in call transcripts. Managers and admins edit.
 */
export function Services() {
  const { me } = useSession();
  const canEdit = me?.user.role === "admin" || me?.user.role === "manager";
  const services = useQuery({
    queryKey: ["services"],
    queryFn: async () => unwrap(await api.GET("/api/services")),
  });
  const [editing, setEditing] = useState<Service | "new" | null>(null);
  return (
    <>
      <PageHeader
        title="Services & prices"
        actions={canEdit ? <Button onClick={() => setEditing("new")}>New service</Button> : null}
      />
      <p className="mb-4 text-sm text-slate-700">
        The AI agent offers these services, and a call that mentions one is valued at its price.
        {canEdit ? null : " Only managers and admins can change them."}
      </p>
      {services.isPending ? (
        <LoadingRows label="Loading services" />
      ) : services.error ? (
        <ErrorState message={errorMessage(services.error)} onRetry={() => services.refetch()} />
      ) : services.data.services.length === 0 ? (
        <EmptyState title="No services yet">
          Add the treatments the clinic offers and their prices.
        </EmptyState>
      ) : (
        <ScrollTable label="Services table" caption="Services and prices">
          <thead className="bg-slate-50 text-slate-700">
            <tr>
              {[
                "Service",
                "Price",
                "Length",
                "Keywords",
                "Status",
                ...(canEdit ? ["Actions"] : []),
              ].map((h) => (
                <th key={h} scope="col" className="px-3 py-2">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {services.data.services.map((s) => (
              <tr key={s.id} data-testid="service-row">
                <td className="px-3 py-2 font-medium">{s.name}</td>
                <td className="px-3 py-2 whitespace-nowrap">
                  {formatMoney(s.price_minor, s.currency)}
                </td>
                <td className="px-3 py-2 whitespace-nowrap">{s.duration_minutes} min</td>
                <td className="px-3 py-2 text-slate-700">{s.keywords.join(", ") || "—"}</td>
                <td className="px-3 py-2">
                  <Badge tone={s.is_active ? "good" : "neutral"}>
                    {s.is_active ? "offered" : "hidden"}
                  </Badge>
                </td>
                {canEdit ? (
                  <td className="px-3 py-2">
                    <Button variant="secondary" onClick={() => setEditing(s)}>
                      Edit<span className="sr-only"> {s.name}</span>
                    </Button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </ScrollTable>
      )}
      <Dialog
        open={editing !== null}
        onOpenChange={(open) => (open ? undefined : setEditing(null))}
        title={editing === "new" ? "New service" : `Edit ${editing?.name ?? "service"}`}
      >
        {editing ? (
          <ServiceForm
            key={editing === "new" ? "new" : editing.id}
            service={editing === "new" ? null : editing}
            onDone={() => setEditing(null)}
          />
        ) : null}
      </Dialog>
    </>
  );
}

/** Major units of `minor` as the form shows them (`15050` USD → `"150.50"`). */
function typedPrice(minor: number, currency: string): string {
  const digits = minorDigits(currency);
  return (minor / 10 ** digits).toFixed(digits);
}

function ServiceForm({ service, onDone }: { service: Service | null; onDone: () => void }) {
  const toast = useToast();
  const queryClient = useQueryClient();
  const clinicCurrency = useClinicCurrency();
  const currency = service?.currency ?? clinicCurrency;
  const form = useForm<ServiceInput, unknown, ServiceOutput>({
    resolver: zodResolver(serviceSchema),
    defaultValues: {
      name: service?.name ?? "",
      currency,
      price: service ? typedPrice(service.price_minor, currency) : "",
      duration_minutes: String(service?.duration_minutes ?? 30),
      keywords: service?.keywords.join(", ") ?? "",
      is_active: service?.is_active ?? true,
    },
  });
  const save = useMutation({
    mutationFn: async (body: ServiceOutput) =>
      service
        ? unwrap(
            await api.PATCH("/api/services/{id}", { params: { path: { id: service.id } }, body }),
          )
        : unwrap(await api.POST("/api/services", { body: { ...body, is_active: undefined } })),
    onSuccess: (r) => {
      void queryClient.invalidateQueries({ queryKey: ["services"] });
      toast({
        tone: "good",
        title: service ? "Service saved" : "Service added",
        description: r.service.name,
      });
      onDone();
    },
    onError: (error) => {
      if (error instanceof ApiError && error.code === "name_taken")
        form.setError("name", { message: error.message });
      else toast({ tone: "bad", title: "Service not saved", description: errorMessage(error) });
    },
  });
  const remove = useMutation({
    mutationFn: async (id: string) =>
      unwrap(await api.DELETE("/api/services/{id}", { params: { path: { id } } })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["services"] });
      toast({ tone: "good", title: "Service deleted", description: service?.name });
      onDone();
    },
    onError: (error) =>
      toast({ tone: "bad", title: "Not deleted", description: errorMessage(error) }),
  });
  const { errors } = form.formState;
  return (
    <form noValidate className="space-y-3" onSubmit={form.handleSubmit((v) => save.mutate(v))}>
      <TextField label="Name" error={errors.name?.message} {...form.register("name")} />
      <div className="grid gap-3 sm:grid-cols-3">
        <TextField
          label="Price"
          inputMode="decimal"
          className="sm:col-span-2"
          hint="In the currency's main unit, for example 150.00."
          error={errors.price?.message}
          {...form.register("price")}
        />
        <TextField
          label="Currency"
          maxLength={3}
          error={errors.currency?.message}
          {...form.register("currency")}
        />
      </div>
      <TextField
        label="Visit length (minutes)"
        type="number"
        min={5}
        max={480}
        error={errors.duration_minutes?.message}
        {...form.register("duration_minutes")}
      />
      <TextField
        label="Keywords"
        hint="Comma-separated words callers use for it, for example: botox, wrinkles."
        {...form.register("keywords")}
      />
      {service ? (
        <CheckboxField
          label="Offered"
          hint="Hidden services are neither offered nor priced."
          {...form.register("is_active")}
        />
      ) : null}
      <div className="flex flex-wrap justify-between gap-2">
        {service ? (
          <Button
            variant="ghost"
            onClick={() => remove.mutate(service.id)}
            disabled={remove.isPending}
          >
            Delete service
          </Button>
        ) : (
          <span />
        )}
        <div className="flex gap-2">
          <Button variant="secondary" onClick={onDone}>
            Cancel
          </Button>
          <Button type="submit" disabled={save.isPending}>
            Save
          </Button>
        </div>
      </div>
    </form>
  );
}
