import { z } from "zod";
import { toE164 } from "../../lib/phone";

/** Pipeline stages, in order (the API refuses moving a lead backwards; seed 001 §16). */
export const LEAD_STATUSES = ["new", "contacted", "booked", "lost"] as const;

/** Lead temperatures. */
export const LEAD_TEMPERATURES = ["hot", "warm", "cold"] as const;

/** A new contact as typed; the phone is normalised to E.164 (North American default +1). */
export const contactSchema = z.object({
  name: z.string().trim().min(1, "Enter the contact's name.").max(200),
  phone: z
    .string()
    .trim()
    .transform((value, ctx) => {
      const e164 = toE164(value);
      if (!e164) {
        ctx.addIssue({
          code: "custom",
          message: "Enter a phone number, for example +1 555 010 1234.",
        });
        return z.NEVER;
      }
      return e164;
    }),
  email: z
    .union([z.literal(""), z.email("Enter a valid email address.")])
    .transform((v) => (v === "" ? null : v)),
  lead_temperature: z.enum(LEAD_TEMPERATURES),
  notes: z
    .string()
    .max(2000)
    .transform((v) => (v.trim() === "" ? null : v.trim())),
});

/** What the form holds before validation. */
export type ContactInput = z.input<typeof contactSchema>;
/** What is sent to `POST /api/contacts`. */
export type ContactOutput = z.output<typeof contactSchema>;
