import { z } from "zod";
import { ApiError } from "../../api/errors";
import { e164Phone, optionalEmail, optionalText } from "../../lib/formRules";
import { isDate } from "../../lib/time";

/**
 * The booking form's rules. A reschedule needs only the new day and time; a booking also needs
 * the customer (name, E.164 phone, optional email). Blank optional fields are sent as `null`.
 */
export function bookingSchema(rescheduling: boolean) {
  return z.object({
    name: rescheduling
      ? z.string()
      : z.string().trim().min(1, "Enter the customer's name.").max(200),
    phone: rescheduling ? z.string() : e164Phone,
    email: optionalEmail,
    service_id: z.string().transform((v) => (v === "" ? null : v)),
    date: z.string().refine(isDate, "Choose a day."),
    slot: z.string().min(1, "Choose a free time."),
    notes: optionalText(2000),
  });
}

/** What the form holds before validation. */
export type BookingInput = z.input<ReturnType<typeof bookingSchema>>;
/** What it holds after. */
export type BookingOutput = z.output<ReturnType<typeof bookingSchema>>;

/** The alternatives of a `slot_taken` refusal (RFC 3339 starts), or `null` for other errors. */
export function slotTaken(error: unknown): string[] | null {
  if (!(error instanceof ApiError) || error.code !== "slot_taken") return null;
  const body = error.body as { alternatives?: unknown };
  return Array.isArray(body.alternatives)
    ? body.alternatives.filter((a): a is string => typeof a === "string")
    : [];
}
