import * as RadixToast from "@radix-ui/react-toast";
import { createContext, type ReactNode, useCallback, useContext, useState } from "react";
import { cn } from "./cn";

type Toast = { id: number; title: string; description?: string; tone: "good" | "bad" };

const ToastContext = createContext<(toast: Omit<Toast, "id">) => void>(() => {});

/** Shows a result: `toast({ title, description, tone })`. */
export function useToast() {
  return useContext(ToastContext);
}

let nextId = 1;

/** Holds the toasts (Radix: announced politely, dismissable, paused on hover and focus). */
export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const push = useCallback((toast: Omit<Toast, "id">) => {
    const id = nextId++;
    setToasts((all) => [...all, { ...toast, id }]);
  }, []);
  return (
    <ToastContext.Provider value={push}>
      <RadixToast.Provider duration={6000}>
        {children}
        {toasts.map((t) => (
          <RadixToast.Root
            key={t.id}
            onOpenChange={(open) => {
              if (!open) setToasts((all) => all.filter((x) => x.id !== t.id));
            }}
            className={cn(
              "rounded-md border p-3 shadow-md",
              t.tone === "good" ? "border-emerald-300 bg-emerald-50" : "border-red-300 bg-red-50",
            )}
          >
            <RadixToast.Title className="text-sm font-semibold text-slate-900">
              {t.title}
            </RadixToast.Title>
            {t.description ? (
              <RadixToast.Description className="mt-1 text-sm text-slate-800">
                {t.description}
              </RadixToast.Description>
            ) : null}
            <RadixToast.Close className="sr-only">Dismiss</RadixToast.Close>
          </RadixToast.Root>
        ))}
        <RadixToast.Viewport className="fixed right-4 bottom-4 z-50 flex w-80 max-w-[calc(100vw-2rem)] flex-col gap-2" />
      </RadixToast.Provider>
    </ToastContext.Provider>
  );
}
