import { useQuery, useQueryClient } from "@tanstack/react-query";
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
} from "react";
import { api, type Schemas, setUnauthenticatedHandler, tokenStore, unwrap } from "./client";

/** The signed-in user and their organization (`GET /api/auth/me`). */
export type Me = Schemas["MeResponse"];

type SessionState = {
  /** Whether a token is held (the user may still be loading). */
  signedIn: boolean;
  /** The user and organization, once loaded. */
  me: Me | undefined;
  /** The `/api/auth/me` load failed for a reason other than an ended session. */
  meError: unknown;
  /** Starts a session with a token from sign-in or sign-up. */
  start: (token: string) => void;
  /** Signs out (`POST /api/auth/logout`) and forgets the token. */
  signOut: () => Promise<void>;
};

const SessionContext = createContext<SessionState | null>(null);

/** The current session; inside [`SessionProvider`] only. */
export function useSession(): SessionState {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}

/**
 * The clinic's time zone (IANA) and whether it is known yet: the one its business hours and
 * bookings use (`GET /api/scheduling/settings`), else the organization's, UTC until either loads.
 * Queries keyed by local days wait for `known`, so they are not asked twice.
 */
export function useClinicTimeZone(): { timeZone: string; known: boolean } {
  const { me, signedIn } = useSession();
  const settings = useQuery({
    queryKey: ["scheduling", "settings"],
    enabled: signedIn,
    queryFn: async () => unwrap(await api.GET("/api/scheduling/settings")),
    staleTime: 5 * 60_000,
  });
  const timeZone = settings.data?.settings.time_zone ?? me?.organization.time_zone ?? "UTC";
  return { timeZone, known: settings.data !== undefined || settings.isError };
}

/** The clinic's time zone ([`useClinicTimeZone`]). */
export function useTimeZone(): string {
  return useClinicTimeZone().timeZone;
}

/** Keeps the token, the current user, and returns to sign-in when the session ends. */
export function SessionProvider({
  children,
  onEnded,
}: {
  children: ReactNode;
  /** Called when the API says the session is no longer valid. */
  onEnded: () => void;
}) {
  const queryClient = useQueryClient();
  const [token, setToken] = useState(tokenStore.get);
  useEffect(() => {
    setUnauthenticatedHandler(() => {
      setToken(null);
      queryClient.clear();
      onEnded();
    });
  }, [queryClient, onEnded]);
  const me = useQuery({
    queryKey: ["auth", "me", token],
    enabled: token !== null,
    queryFn: async () => unwrap(await api.GET("/api/auth/me")),
    staleTime: 5 * 60_000,
  });
  const start = useCallback(
    (next: string) => {
      queryClient.clear();
      tokenStore.set(next);
      setToken(next);
    },
    [queryClient],
  );
  const signOut = useCallback(async () => {
    await api.POST("/api/auth/logout").catch(() => undefined);
    tokenStore.clear();
    setToken(null);
    queryClient.clear();
  }, [queryClient]);
  const value = useMemo(
    () => ({ signedIn: token !== null, me: me.data, meError: me.error, start, signOut }),
    [token, me.data, me.error, start, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
