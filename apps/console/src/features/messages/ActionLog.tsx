import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import { useTimeZone } from "../../api/session";
import { Badge, Card, Loaded } from "../../components/States";
import { formatDateTime } from "../../lib/time";

/** Which record's messages to show (`GET /api/messages` filters). */
export type ActionSubject =
  | { call_id: string }
  | { contact_id: string }
  | { appointment_id: string };

const METHOD_LABEL: Record<string, string> = {
  sms: "SMS",
  email: "Email",
  share: "Recording link",
  export: "Transcript export",
};

/** Refreshes every shown audit after an action ran (its failures are audited too). */
export function useRefreshActionLogs(): () => void {
  const queryClient = useQueryClient();
  return () => void queryClient.invalidateQueries({ queryKey: ["messages"] });
}

/**
 * What was sent about a call, contact or appointment and what happened to it (seed 001's
 * messages audit): method, recipient, time, and `sent` or `failed` with the reason code.
 */
export function ActionLog({
  subject,
  title = "Messages",
}: {
  subject: ActionSubject;
  title?: string;
}) {
  const timeZone = useTimeZone();
  const log = useQuery({
    queryKey: ["messages", subject],
    queryFn: async () =>
      unwrap(await api.GET("/api/messages", { params: { query: { ...subject, limit: 20 } } })),
  });
  return (
    <Card title={title}>
      <Loaded
        query={log}
        label="Loading messages"
        isEmpty={(d) => d.messages.length === 0}
        empty="Nothing sent yet."
      >
        {(data) => (
          <ul className="space-y-2 text-sm" data-testid="action-log">
            {data.messages.map((m) => (
              <li key={m.id} className="flex flex-wrap items-center gap-x-2 gap-y-1">
                <Badge tone={m.status === "sent" ? "good" : m.status === "failed" ? "bad" : "warn"}>
                  {m.status}
                </Badge>
                <span className="font-medium">{METHOD_LABEL[m.method] ?? m.method}</span>
                {m.method === "export" ? null : (
                  <span className="text-slate-700">to {m.recipient}</span>
                )}
                <span className="text-slate-600">{formatDateTime(m.created_at, timeZone)}</span>
                {m.error_code ? <span className="text-red-800">({m.error_code})</span> : null}
                {m.automatic ? <span className="text-slate-600">automatic</span> : null}
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </Card>
  );
}
