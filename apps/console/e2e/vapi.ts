/**
 * Vapi server messages as the gateway receives them (contracts/vapi.md §1-2; the same shapes
 * as `apps/loadgen/src/wire.rs`), posted to `/api/vapi/webhook` with the webhook secret.
 */
import { BASE } from "./browser";

type Call = {
  id: string;
  assistantId: string;
  phoneNumberId: string;
  customer: string;
  metadata: unknown;
};

async function post(message: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(`${BASE}/api/vapi/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-vapi-secret": process.env.VAPI_SECRET ?? "" },
    body: JSON.stringify({ message: { timestamp: Date.now(), ...message } }),
  });
  if (!res.ok)
    throw new Error(`Vapi ${String(message.type)}: HTTP ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text ? JSON.parse(text) : {};
}

function callJson(call: Call) {
  return {
    id: call.id,
    orgId: "vapi-org-e2e",
    assistantId: call.assistantId,
    phoneNumberId: call.phoneNumberId,
    type: "inboundPhoneCall",
    customer: { number: call.customer },
    phoneCallProvider: "twilio",
    phoneCallTransport: "pstn",
    assistantOverrides: { metadata: call.metadata },
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  };
}

/** A call from `caller` to the clinic's number begins: `assistant-request`, then `in-progress`. */
export async function ring(
  clinic: { number: string; phoneNumberId: string },
  id: string,
  caller: string,
): Promise<Call> {
  const answer = await post({
    type: "assistant-request",
    call: {
      id,
      orgId: "vapi-org-e2e",
      type: "inboundPhoneCall",
      phoneNumberId: clinic.phoneNumberId,
      customer: { number: caller },
      status: "ringing",
    },
    phoneNumber: { id: clinic.phoneNumberId, number: clinic.number, provider: "twilio" },
    customer: { number: caller },
  });
  const overrides = (answer.assistantOverrides ?? {}) as { metadata?: unknown };
  const call = {
    id,
    assistantId: String(answer.assistantId ?? ""),
    phoneNumberId: clinic.phoneNumberId,
    customer: caller,
    metadata: overrides.metadata ?? {},
  };
  await post({ type: "status-update", status: "in-progress", call: callJson(call) });
  return call;
}

/** A final transcript line. */
export async function say(call: Call, role: "user" | "assistant", text: string) {
  await post({
    type: "transcript",
    role,
    transcriptType: "final",
    transcript: text,
    call: callJson(call),
  });
}

/** The call ends: `ended`, then its `end-of-call-report` with analysis. */
export async function hangUp(call: Call, transcript: string, summary: string) {
  await post({
    type: "status-update",
    status: "ended",
    endedReason: "customer-ended-call",
    call: callJson(call),
  });
  const ended = new Date();
  await post({
    type: "end-of-call-report",
    endedReason: "customer-ended-call",
    cost: 0.05,
    startedAt: new Date(ended.getTime() - 60_000).toISOString(),
    endedAt: ended.toISOString(),
    analysis: { summary, successEvaluation: "true", sentiment: "positive", sentimentScore: 0.7 },
    artifact: { transcript, messages: [] },
    call: callJson(call),
  });
}
