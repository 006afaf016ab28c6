import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useForm } from "react-hook-form";
import { Link } from "wouter";
import { z } from "zod";
import { api, errorMessage, unwrap } from "../../api/client";
import { useClinicCurrency } from "../../api/clinic";
import { onTranscript, type TranscriptLine } from "../../api/live";
import { useTimeZone } from "../../api/session";
import { Button } from "../../components/Button";
import { TextAreaField, TextField } from "../../components/Field";
import { Badge, Card, ErrorState, LoadingRows, PageHeader } from "../../components/States";
import { useToast } from "../../components/Toast";
import { formatMoney } from "../../lib/money";
import { callerLabel, formatPhone, smsSegments } from "../../lib/phone";
import { formatDateTime, formatDuration } from "../../lib/time";
import { ActionLog, useRefreshActionLogs } from "../messages/ActionLog";
import { sentimentTone } from "./sentiment";

/** One call: transcript (growing live while the call is on), recording, analysis, actions. */
export function CallDetail({ id }: { id: string }) {
  const call = useQuery({
    queryKey: ["calls", "one", id],
    queryFn: async () =>
      unwrap(await api.GET("/api/calls-dashboard/{callId}", { params: { path: { callId: id } } })),
  });
  const timeZone = useTimeZone();
  const currency = useClinicCurrency();
  if (call.isPending) return <LoadingRows label="Loading the call" />;
  if (call.error)
    return <ErrorState message={errorMessage(call.error)} onRetry={() => call.refetch()} />;
  const c = call.data.call;
  const caller = callerLabel(c.caller_name, c.from_number ?? c.phone_number);
  return (
    <>
      <p className="mb-2 text-sm">
        <Link href="/calls" className="text-teal-800 underline">
          ← All calls
        </Link>
      </p>
      <PageHeader title={`Call with ${caller}`} />
      <div className="grid gap-6 lg:grid-cols-3">
        <div className="space-y-6 lg:col-span-2">
          <Card title="Summary">
            <p className="text-sm text-slate-800">
              {c.outcome_summary ?? c.sentiment_summary ?? "No summary yet."}
            </p>
          </Card>
          {c.recording_url ? (
            <Card title="Recording">
              {/* biome-ignore lint/a11y/useMediaCaption: the transcript below is the call's text */}
              <audio controls preload="none" src={c.recording_url} className="w-full">
                Your browser cannot play the recording.
              </audio>
            </Card>
          ) : null}
          {/* Keyed by the stored text: the end-of-call report's transcript supersedes the lines heard live. */}
          <Transcript
            key={c.transcript ?? ""}
            vapiCallId={c.vapi_call_id ?? null}
            stored={c.transcript ?? ""}
          />
        </div>
        <div className="space-y-6">
          <Card title="Details">
            <dl className="grid grid-cols-2 gap-x-3 gap-y-2 text-sm">
              <Fact label="When">{formatDateTime(c.created_at, timeZone)}</Fact>
              <Fact label="Number">{formatPhone(c.from_number ?? c.phone_number)}</Fact>
              <Fact label="Direction">{c.call_type}</Fact>
              <Fact label="Status">{c.status}</Fact>
              <Fact label="Duration">{formatDuration(c.duration_seconds)}</Fact>
              <Fact label="Outcome">
                {c.booking_confirmed ? <Badge tone="good">booked</Badge> : (c.outcome ?? "—")}
              </Fact>
              <Fact label="Sentiment">
                {c.sentiment ? <Badge tone={sentimentTone(c.sentiment)}>{c.sentiment}</Badge> : "—"}
              </Fact>
              <Fact label="Booked value">
                {c.financial_value_minor > 0 ? formatMoney(c.financial_value_minor, currency) : "—"}
              </Fact>
              <Fact label="Cost">
                {c.total_cost == null ? "—" : formatMoney(Math.round(c.total_cost * 100), "USD")}
              </Fact>
            </dl>
          </Card>
          <FollowUp callId={c.id} />
          <ShareRecording callId={c.id} hasRecording={Boolean(c.recording_url)} />
          <ExportTranscript callId={c.id} caller={caller} />
          <ActionLog subject={{ call_id: c.id }} title="Sent about this call" />
        </div>
      </div>
    </>
  );
}

/** One term and its value in the details list. */
function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <>
      <dt className="text-slate-600">{label}</dt>
      <dd className="text-slate-900">{children}</dd>
    </>
  );
}

/** The stored transcript plus lines arriving live (`vapi_transcript` events) for this call. */
function Transcript({ vapiCallId, stored }: { vapiCallId: string | null; stored: string }) {
  const [live, setLive] = useState<TranscriptLine[]>([]);
  useEffect(() => {
    if (!vapiCallId) return;
    return onTranscript((callId, line) => {
      if (callId === vapiCallId) setLive((lines) => [...lines, line]);
    });
  }, [vapiCallId]);
  const lines = stored
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return (
    <Card title="Transcript">
      {lines.length === 0 && live.length === 0 ? (
        <p className="text-sm text-slate-600">No transcript yet.</p>
      ) : (
        <ol className="space-y-1 text-sm" aria-live="polite" data-testid="transcript">
          {lines.map((line, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: transcript lines are positional
            <li key={`s${i}`}>{line}</li>
          ))}
          {live.map((line, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: transcript lines are positional
            <li key={`l${i}`}>
              <span className="font-medium">{line.role === "assistant" ? "AI" : "Caller"}:</span>{" "}
              {line.text}
            </li>
          ))}
        </ol>
      )}
    </Card>
  );
}

const followUpSchema = z.object({
  message: z
    .string()
    .trim()
    .min(1, "Write the message.")
    .max(160, "At most 160 characters (one SMS)."),
});

/** Seed 001 action 1: a follow-up SMS to the caller. */
function FollowUp({ callId }: { callId: string }) {
  const toast = useToast();
  const refreshLog = useRefreshActionLogs();
  const form = useForm<z.infer<typeof followUpSchema>>({
    resolver: zodResolver(followUpSchema),
    defaultValues: { message: "" },
  });
  const message = form.watch("message");
  const send = useMutation({
    onSettled: refreshLog,
    mutationFn: async (body: z.infer<typeof followUpSchema>) =>
      unwrap(
        await api.POST("/api/calls-dashboard/{callId}/followup", {
          params: { path: { callId } },
          body,
        }),
      ),
    onSuccess: (result) => {
      toast({
        tone: "good",
        title: "Follow-up sent",
        description: `SMS to ${formatPhone(result.phone)}.`,
      });
      form.reset();
    },
    onError: (error) =>
      toast({ tone: "bad", title: "Follow-up not sent", description: errorMessage(error) }),
  });
  return (
    <Card title="Follow-up SMS">
      <form noValidate className="space-y-3" onSubmit={form.handleSubmit((v) => send.mutate(v))}>
        <TextAreaField
          label="Message"
          rows={3}
          hint={`${message.length}/160 characters · ${smsSegments(message)} SMS`}
          error={form.formState.errors.message?.message}
          {...form.register("message")}
        />
        <Button type="submit" disabled={send.isPending}>
          {send.isPending ? "Sending…" : "Send SMS"}
        </Button>
      </form>
    </Card>
  );
}

const shareSchema = z.object({ email: z.email("Enter a valid email address.") });

/** Seed 001 action 2: a 24-hour recording link by email. */
function ShareRecording({ callId, hasRecording }: { callId: string; hasRecording: boolean }) {
  const toast = useToast();
  const refreshLog = useRefreshActionLogs();
  const form = useForm<z.infer<typeof shareSchema>>({ resolver: zodResolver(shareSchema) });
  const share = useMutation({
    onSettled: refreshLog,
    mutationFn: async (body: z.infer<typeof shareSchema>) =>
      unwrap(
        await api.POST("/api/calls-dashboard/{callId}/share", {
          params: { path: { callId } },
          body,
        }),
      ),
    onSuccess: (result) => {
      toast({
        tone: "good",
        title: "Recording shared",
        description: `A 24-hour link went to ${result.email}.`,
      });
      form.reset();
    },
    onError: (error) =>
      toast({ tone: "bad", title: "Recording not shared", description: errorMessage(error) }),
  });
  if (!hasRecording) return null;
  return (
    <Card title="Share recording">
      <form noValidate className="space-y-3" onSubmit={form.handleSubmit((v) => share.mutate(v))}>
        <TextField
          label="Email"
          type="email"
          hint="The link works for 24 hours."
          error={form.formState.errors.email?.message}
          {...form.register("email")}
        />
        <Button type="submit" variant="secondary" disabled={share.isPending}>
          Send link
        </Button>
      </form>
    </Card>
  );
}

/** Seed 001 action 3: the transcript as a `.txt` download. */
function ExportTranscript({ callId, caller }: { callId: string; caller: string }) {
  const toast = useToast();
  const refreshLog = useRefreshActionLogs();
  const exportTxt = useMutation({
    onSettled: refreshLog,
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/calls-dashboard/{callId}/transcript/export", {
          params: { path: { callId } },
          body: { format: "txt" },
          parseAs: "text",
        }),
      ),
    onSuccess: (text) => {
      const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = `transcript-${caller.replace(/[^\w+-]+/g, "_")}.txt`;
      link.click();
      URL.revokeObjectURL(url);
      toast({ tone: "good", title: "Transcript exported" });
    },
    onError: (error) =>
      toast({ tone: "bad", title: "Export failed", description: errorMessage(error) }),
  });
  return (
    <Card title="Export">
      <Button variant="secondary" onClick={() => exportTxt.mutate()} disabled={exportTxt.isPending}>
        Download transcript (.txt)
      </Button>
    </Card>
  );
}
