import { type ReactNode, useState } from "react";
import { Link, useLocation } from "wouter";
import { type LiveState, useLiveConnection } from "../api/live";
import { useSession } from "../api/session";
import { Button } from "../components/Button";
import { cn } from "../components/cn";

type Role = "admin" | "manager" | "user";

/** Navigation; each entry lists the roles that see it. */
const NAV: { href: string; label: string; roles: Role[] }[] = [
  { href: "/", label: "Dashboard", roles: ["admin", "manager", "user"] },
  { href: "/calls", label: "Calls", roles: ["admin", "manager", "user"] },
  { href: "/contacts", label: "Leads & contacts", roles: ["admin", "manager", "user"] },
  { href: "/appointments", label: "Appointments", roles: ["admin", "manager", "user"] },
  { href: "/services", label: "Services & prices", roles: ["admin", "manager", "user"] },
  { href: "/settings/hours", label: "Business hours", roles: ["admin", "manager"] },
];

/** The layout around every signed-in screen: sidebar, top bar, live indicator. */
export function Shell({ children }: { children: ReactNode }) {
  const { me, signOut } = useSession();
  const live = useLiveConnection(true);
  const [location, navigate] = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const role = (me?.user.role ?? "user") as Role;
  const items = NAV.filter((item) => item.roles.includes(role));
  const isActive = (href: string) => (href === "/" ? location === "/" : location.startsWith(href));
  return (
    <div className="min-h-screen md:flex">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:p-2">
        Skip to content
      </a>
      <header className="flex items-center justify-between border-b border-slate-200 bg-white px-4 py-3 md:hidden">
        <span className="font-semibold">{me?.organization.name ?? "Clinic"}</span>
        <Button
          variant="secondary"
          aria-expanded={menuOpen}
          aria-controls="sidebar"
          onClick={() => setMenuOpen((open) => !open)}
        >
          Menu
        </Button>
      </header>
      <nav
        id="sidebar"
        aria-label="Main"
        className={cn(
          "border-r border-slate-200 bg-white p-4 md:block md:w-60 md:shrink-0",
          menuOpen ? "block" : "hidden",
        )}
      >
        <p className="mb-6 hidden font-semibold text-teal-900 md:block">
          {me?.organization.name ?? "Clinic"}
        </p>
        <ul className="space-y-1">
          {items.map((item) => (
            <li key={item.href}>
              <Link
                href={item.href}
                onClick={() => setMenuOpen(false)}
                aria-current={isActive(item.href) ? "page" : undefined}
                className={cn(
                  "block rounded-md px-3 py-2 text-sm",
                  isActive(item.href)
                    ? "bg-teal-50 font-medium text-teal-900"
                    : "text-slate-700 hover:bg-slate-100",
                )}
              >
                {item.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div className="min-w-0 flex-1">
        <div className="flex flex-wrap items-center justify-end gap-3 border-b border-slate-200 bg-white px-4 py-2">
          <LiveIndicator state={live} />
          <span className="text-sm text-slate-700">
            {me ? `${me.user.name} · ${me.user.role}` : ""}
          </span>
          <Button
            variant="ghost"
            onClick={async () => {
              await signOut();
              navigate("/sign-in");
            }}
          >
            Sign out
          </Button>
        </div>
        <main id="main" className="mx-auto max-w-6xl p-4 md:p-6">
          {children}
        </main>
      </div>
    </div>
  );
}

const LIVE_TEXT: Record<LiveState, string> = {
  live: "Live",
  connecting: "Connecting…",
  offline: "Offline, reconnecting",
};

/** Seed 002's connection indicator: a dot and a word (colour is never the only signal). */
function LiveIndicator({ state }: { state: LiveState }) {
  return (
    <span
      role="status"
      aria-live="polite"
      className="flex items-center gap-2 text-sm text-slate-700"
    >
      <span
        aria-hidden="true"
        className={cn(
          "h-2.5 w-2.5 rounded-full",
          state === "live"
            ? "bg-emerald-600"
            : state === "connecting"
              ? "bg-amber-500"
              : "bg-red-600",
        )}
      />
      <span data-testid="live-state">{LIVE_TEXT[state]}</span>
    </span>
  );
}
