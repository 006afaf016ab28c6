import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas, unwrap } from "../../api/client";

/** An appointment as the API returns it. */
export type Appointment = Schemas["AppointmentBody"];

/** The free starts of one local day for a service (`GET /api/availability`). */
export function useAvailability(date: string, serviceId: string | undefined, enabled = true) {
  return useQuery({
    queryKey: ["availability", date, serviceId ?? ""],
    enabled: enabled && date !== "",
    queryFn: async () =>
      unwrap(
        await api.GET("/api/availability", {
          params: { query: { date, service_id: serviceId || undefined } },
        }),
      ),
  });
}

/** The organization's active services, by name. */
export function useActiveServices() {
  return useQuery({
    queryKey: ["services"],
    queryFn: async () => unwrap(await api.GET("/api/services")),
    select: (data) => data.services.filter((s) => s.is_active),
  });
}

/** Refreshes what a booking change affects: lists, free slots, the dashboard, the audit. */
export function useRefreshBookings(): () => void {
  const queryClient = useQueryClient();
  return () => {
    for (const key of ["appointments", "availability", "messages", "contacts"])
      void queryClient.invalidateQueries({ queryKey: [key] });
  };
}
