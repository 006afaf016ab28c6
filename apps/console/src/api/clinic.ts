import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "./client";

/**
 * The clinic's currency (ISO 4217): the currency its services are priced in (`GET
 * /api/services`), USD until it has one. Amounts everywhere are minor units of it.
 */
export function useClinicCurrency(): string {
  const services = useQuery({
    queryKey: ["services"],
    queryFn: async () => unwrap(await api.GET("/api/services")),
    staleTime: 5 * 60_000,
  });
  return services.data?.services[0]?.currency ?? "USD";
}
