import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useCallback } from "react";
import { Redirect, Route, Switch, useLocation } from "wouter";
import { ApiError } from "../api/client";
import { SessionProvider, useSession } from "../api/session";
import { ToastProvider } from "../components/Toast";
import { Appointments } from "../features/appointments/Appointments";
import { SignIn } from "../features/auth/SignIn";
import { SignUp } from "../features/auth/SignUp";
import { CallDetail } from "../features/calls/CallDetail";
import { CallsList } from "../features/calls/CallsList";
import { ContactDetail } from "../features/contacts/ContactDetail";
import { Contacts } from "../features/contacts/Contacts";
import { Dashboard } from "../features/dashboard/Dashboard";
import { Services } from "../features/services/Services";
import { BusinessHours } from "../features/settings/BusinessHours";
import { safeNext } from "./next";
import { Shell } from "./Shell";

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 30_000,
      // A refusal (4xx) will not change on retry; a network failure might.
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
    },
  },
});

/** Providers and the route table. */
export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <ToastProvider>
        <Session />
      </ToastProvider>
    </QueryClientProvider>
  );
}

function Session() {
  const [location, navigate] = useLocation();
  const ended = useCallback(() => {
    const here = window.location.pathname + window.location.search;
    navigate(`/sign-in?expired=1&next=${encodeURIComponent(here)}`);
  }, [navigate]);
  void location;
  return (
    <SessionProvider onEnded={ended}>
      <Routes />
    </SessionProvider>
  );
}

function Routes() {
  const { signedIn } = useSession();
  const [location] = useLocation();
  if (location === "/sign-in" || location === "/sign-up") {
    if (signedIn) return <Redirect to={safeNext(window.location.search)} />;
    return location === "/sign-in" ? <SignIn /> : <SignUp />;
  }
  if (!signedIn) {
    const next = encodeURIComponent(location + window.location.search);
    return <Redirect to={location === "/" ? "/sign-in" : `/sign-in?next=${next}`} />;
  }
  return (
    <Shell>
      <Switch>
        <Route path="/" component={Dashboard} />
        <Route path="/calls" component={CallsList} />
        <Route path="/calls/:id">{(params) => <CallDetail id={params.id} />}</Route>
        <Route path="/contacts" component={Contacts} />
        <Route path="/contacts/:id">{(params) => <ContactDetail id={params.id} />}</Route>
        <Route path="/appointments" component={Appointments} />
        <Route path="/services" component={Services} />
        <Route path="/settings/hours" component={BusinessHours} />
        <Route>
          <NotFound />
        </Route>
      </Switch>
    </Shell>
  );
}

function NotFound() {
  return (
    <div className="py-12 text-center">
      <h1 className="text-xl font-semibold">Page not found</h1>
      <p className="mt-2 text-sm text-slate-600">
        <a className="text-teal-800 underline" href="/">
          Back to the dashboard
        </a>
      </p>
    </div>
  );
}
