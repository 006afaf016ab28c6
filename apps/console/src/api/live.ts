import { type QueryClient, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { tokenStore } from "./client";

/** The live connection as the indicator shows it. */
export type LiveState = "connecting" | "live" | "offline";

/** A final transcript line (`vapi_transcript` events). */
export type TranscriptLine = { role: string; text: string };

type Listener = (vapiCallId: string, line: TranscriptLine) => void;
const transcriptListeners = new Set<Listener>();

/** Subscribes to transcript lines as they arrive; returns the unsubscribe function. */
export function onTranscript(listener: Listener): () => void {
  transcriptListeners.add(listener);
  return () => transcriptListeners.delete(listener);
}

/** Reconnect delay after `attempt` failures: 1 s doubling to 30 s, with jitter. */
export function backoffMs(attempt: number): number {
  const base = Math.min(30_000, 1000 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

/** Re-fetches what call events change: the calls and the dashboard figures. */
function refetchCalls(queryClient: QueryClient) {
  void queryClient.invalidateQueries({ queryKey: ["calls"] });
  void queryClient.invalidateQueries({ queryKey: ["stats"] });
}

/** What an event means for the cached server state. */
function apply(queryClient: QueryClient, event: Record<string, unknown>) {
  if (event.type === "vapi_call_update") {
    refetchCalls(queryClient);
  } else if (event.type === "vapi_transcript" && typeof event.vapi_call_id === "string") {
    const line = { role: String(event.role ?? ""), text: String(event.text ?? "") };
    for (const listener of transcriptListeners) listener(event.vapi_call_id, line);
  }
}

/**
 * One WebSocket for the app (`/ws`, first-message auth with the session token — never in the
 * URL), reconnecting with exponential backoff; on every (re)connection the calls and stats are
 * re-fetched, since events sent while disconnected are not replayed.
 */
export function useLiveConnection(enabled: boolean): LiveState {
  const queryClient = useQueryClient();
  const [state, setState] = useState<LiveState>("connecting");
  useEffect(() => {
    if (!enabled) return;
    let socket: WebSocket | null = null;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const connect = () => {
      const token = tokenStore.get();
      if (!token || stopped) return;
      setState("connecting");
      const scheme = window.location.protocol === "https:" ? "wss" : "ws";
      socket = new WebSocket(`${scheme}://${window.location.host}/ws`);
      socket.onopen = () => socket?.send(JSON.stringify({ type: "auth", token }));
      socket.onmessage = (message) => {
        let event: Record<string, unknown>;
        try {
          event = JSON.parse(String(message.data));
        } catch {
          return;
        }
        if (event.type === "auth_success") {
          attempt = 0;
          setState("live");
          refetchCalls(queryClient);
        } else {
          apply(queryClient, event);
        }
      };
      socket.onclose = () => {
        if (stopped) return;
        setState("offline");
        timer = setTimeout(connect, backoffMs(attempt++));
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, [enabled, queryClient]);
  return state;
}
