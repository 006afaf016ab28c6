import { zodResolver } from "@hookform/resolvers/zod";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useForm } from "react-hook-form";
import { Link } from "wouter";
import { ApiError, api, errorMessage, unwrap } from "../../api/client";
import { useTimeZone } from "../../api/session";
import { Button } from "../../components/Button";
import { Dialog } from "../../components/Dialog";
import { SelectField, TextAreaField, TextField } from "../../components/Field";
import { Badge, EmptyState, ErrorState, LoadingRows, PageHeader } from "../../components/States";
import { Pager, ScrollTable } from "../../components/Table";
import { useToast } from "../../components/Toast";
import { formatPhone, UNKNOWN_CALLER } from "../../lib/phone";
import { formatDateTime } from "../../lib/time";
import { useUrlFilters } from "../../lib/useUrlFilters";
import {
  type ContactInput,
  type ContactOutput,
  contactSchema,
  LEAD_STATUSES,
  LEAD_TEMPERATURES,
} from "./contactSchema";

const PAGE = 25;
const all = (label: string) => [{ value: "", label }];

/** Leads and contacts: search, pipeline stage, temperature, create. */
export function Contacts() {
  const timeZone = useTimeZone();
  const filters = useUrlFilters("/contacts");
  const { page } = filters;
  const [creating, setCreating] = useState(false);
  const query = {
    search: filters.get("q") || undefined,
    lead_status: filters.get("stage") || undefined,
    lead_temperature: filters.get("temperature") || undefined,
    limit: PAGE,
    offset: page * PAGE,
  };
  const contacts = useQuery({
    queryKey: ["contacts", query],
    queryFn: async () => unwrap(await api.GET("/api/contacts", { params: { query } })),
    placeholderData: keepPreviousData,
  });
  return (
    <>
      <PageHeader
        title="Leads & contacts"
        actions={<Button onClick={() => setCreating(true)}>New contact</Button>}
      />
      <search aria-label="Filter contacts" className="mb-4 grid gap-3 sm:grid-cols-3">
        <TextField
          label="Search name, number or company"
          defaultValue={filters.get("q")}
          onChange={(e) => filters.set("q", e.target.value)}
        />
        <SelectField
          label="Pipeline stage"
          value={filters.get("stage")}
          onChange={(e) => filters.set("stage", e.target.value)}
          options={[...all("All stages"), ...LEAD_STATUSES.map((s) => ({ value: s, label: s }))]}
        />
        <SelectField
          label="Temperature"
          value={filters.get("temperature")}
          onChange={(e) => filters.set("temperature", e.target.value)}
          options={[...all("All"), ...LEAD_TEMPERATURES.map((t) => ({ value: t, label: t }))]}
        />
      </search>
      {contacts.isPending ? (
        <LoadingRows label="Loading contacts" />
      ) : contacts.error ? (
        <ErrorState message={errorMessage(contacts.error)} onRetry={() => contacts.refetch()} />
      ) : contacts.data.contacts.length === 0 ? (
        <EmptyState title={filters.any ? "No contacts match" : "No contacts yet"}>
          {filters.any
            ? "Clear a filter to see more."
            : "Callers become contacts automatically; you can also add one with “New contact”."}
        </EmptyState>
      ) : (
        <>
          <ScrollTable label="Contacts table" caption="Contacts">
            <thead className="bg-slate-50 text-slate-700">
              <tr>
                <th scope="col" className="px-3 py-2">
                  Name
                </th>
                <th scope="col" className="px-3 py-2">
                  Phone
                </th>
                <th scope="col" className="px-3 py-2">
                  Stage
                </th>
                <th scope="col" className="px-3 py-2">
                  Temperature
                </th>
                <th scope="col" className="px-3 py-2">
                  Score
                </th>
                <th scope="col" className="px-3 py-2">
                  Last contact
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {contacts.data.contacts.map((c) => (
                <tr key={c.id} data-testid="contact-row">
                  <td className="px-3 py-2">
                    <Link
                      href={`/contacts/${c.id}`}
                      className="font-medium text-teal-800 underline"
                    >
                      {c.name === UNKNOWN_CALLER ? "Unknown caller" : c.name}
                    </Link>
                    {c.company ? (
                      <span className="block text-xs text-slate-600">{c.company}</span>
                    ) : null}
                  </td>
                  <td className="px-3 py-2 whitespace-nowrap">{formatPhone(c.phone_number)}</td>
                  <td className="px-3 py-2">
                    <Badge
                      tone={
                        c.lead_status === "booked"
                          ? "good"
                          : c.lead_status === "lost"
                            ? "bad"
                            : "neutral"
                      }
                    >
                      {c.lead_status}
                    </Badge>
                  </td>
                  <td className="px-3 py-2">
                    <Badge
                      tone={
                        c.lead_temperature === "hot"
                          ? "bad"
                          : c.lead_temperature === "warm"
                            ? "warn"
                            : "info"
                      }
                    >
                      {c.lead_temperature}
                    </Badge>
                  </td>
                  <td className="px-3 py-2">{c.lead_score}</td>
                  <td className="px-3 py-2 whitespace-nowrap">
                    {c.last_contacted_at ? formatDateTime(c.last_contacted_at, timeZone) : "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </ScrollTable>
          <Pager
            summary={`${contacts.data.pagination.total} contacts`}
            page={page}
            hasMore={contacts.data.pagination.has_more}
            onPage={filters.goTo}
          />
        </>
      )}
      <NewContact open={creating} onOpenChange={setCreating} />
    </>
  );
}

function NewContact({
  open,
  onOpenChange,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const toast = useToast();
  const queryClient = useQueryClient();
  const form = useForm<ContactInput, unknown, ContactOutput>({
    resolver: zodResolver(contactSchema),
    defaultValues: {
      name: "",
      phone: "",
      email: "",
      company: "",
      lead_temperature: "warm",
      notes: "",
    },
  });
  const create = useMutation({
    mutationFn: async (body: ContactOutput) => unwrap(await api.POST("/api/contacts", { body })),
    onSuccess: (result) => {
      void queryClient.invalidateQueries({ queryKey: ["contacts"] });
      void queryClient.invalidateQueries({ queryKey: ["stats"] });
      toast({ tone: "good", title: "Contact added", description: result.contact.name });
      form.reset();
      onOpenChange(false);
    },
    onError: (error) => {
      if (error instanceof ApiError && error.code === "phone_taken")
        form.setError("phone", { message: error.message });
      else toast({ tone: "bad", title: "Contact not added", description: errorMessage(error) });
    },
  });
  const { errors } = form.formState;
  return (
    <Dialog open={open} onOpenChange={onOpenChange} title="New contact">
      <form noValidate className="space-y-3" onSubmit={form.handleSubmit((v) => create.mutate(v))}>
        <TextField label="Name" error={errors.name?.message} {...form.register("name")} />
        <TextField
          label="Phone"
          type="tel"
          hint="Stored as E.164, for example +15550101234."
          error={errors.phone?.message}
          {...form.register("phone")}
        />
        <TextField
          label="Email (optional)"
          type="email"
          error={errors.email?.message}
          {...form.register("email")}
        />
        <TextField
          label="Company (optional)"
          error={errors.company?.message}
          {...form.register("company")}
        />
        <SelectField
          label="Temperature"
          options={LEAD_TEMPERATURES.map((t) => ({ value: t, label: t }))}
          {...form.register("lead_temperature")}
        />
        <TextAreaField
          label="Notes (optional)"
          rows={2}
          error={errors.notes?.message}
          {...form.register("notes")}
        />
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button type="submit" disabled={create.isPending}>
            Add contact
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
