import { z } from "zod";
import { e164Phone, optionalEmail, optionalText } from "../../lib/formRules";

/** Pipeline stages, in order (the API refuses moving a lead backwards; seed 001 §16). */
export const LEAD_STATUSES = ["new", "contacted", "booked", "lost"] as const;

/** Lead temperatures. */
export const LEAD_TEMPERATURES = ["hot", "warm", "cold"] as const;

/** A new contact as typed; the phone is normalised to E.164 (North American default +1). */
export const contactSchema = z.object({
  name: z.string().trim().min(1, "Enter the contact's name.").max(200),
  phone: e164Phone,
  email: optionalEmail,
  company: optionalText(200),
  lead_temperature: z.enum(LEAD_TEMPERATURES),
  notes: optionalText(2000),
});

/**
 * An existing contact as edited: also its stage and score. A blank company is sent as `""`,
 * which clears it (`PATCH /api/contacts/{id}`).
 */
export const contactEditSchema = contactSchema.extend({
  company: z.string().trim().max(200, "At most 200 characters."),
  lead_status: z.enum(LEAD_STATUSES),
  lead_score: z.coerce
    .number<string>()
    .int("Whole numbers only.")
    .min(0, "0 to 100.")
    .max(100, "0 to 100."),
});

/** What the edit form holds before validation. */
export type ContactEditInput = z.input<typeof contactEditSchema>;
/** What is sent to `PATCH /api/contacts/{id}`. */
export type ContactEditOutput = z.output<typeof contactEditSchema>;

const STAGE_RANK: Record<(typeof LEAD_STATUSES)[number], number> = {
  new: 0,
  contacted: 1,
  booked: 2,
  lost: 2,
};

/**
 * The stages a lead at `current` may move to: forward only, `booked` and `lost` replacing each
 * other (the API's pipeline rule, seed 001 §16).
 */
export function reachableStages(current: string): (typeof LEAD_STATUSES)[number][] {
  const from = STAGE_RANK[current as (typeof LEAD_STATUSES)[number]] ?? 0;
  return LEAD_STATUSES.filter((s) => STAGE_RANK[s] >= from);
}

/** What the form holds before validation. */
export type ContactInput = z.input<typeof contactSchema>;
/** What is sent to `POST /api/contacts`. */
export type ContactOutput = z.output<typeof contactSchema>;
