import { z } from "zod";
import { isDate } from "../../lib/time";

/** ISO weekdays as the API numbers them (Monday 1 … Sunday 7) and their names. */
export const WEEKDAYS = [
  [1, "Monday"],
  [2, "Tuesday"],
  [3, "Wednesday"],
  [4, "Thursday"],
  [5, "Friday"],
  [6, "Saturday"],
  [7, "Sunday"],
] as const;

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "A time such as 09:00.");

const minutes = (min: number, max: number) =>
  z.coerce
    .number<string>()
    .int("Whole minutes.")
    .min(min, `${min} to ${max} minutes.`)
    .max(max, `${min} to ${max} minutes.`);

/**
 * The scheduling settings as edited (`PUT /api/scheduling/settings`): the same rules the API
 * applies, checked before sending — windows close after they open and one weekday's windows
 * never overlap; buffer 0–240 and slot grid 5–240 minutes; closures are local dates.
 */
export const hoursSchema = z
  .object({
    time_zone: z.string().min(1, "Choose the clinic's time zone."),
    business_hours: z.array(
      z.object({
        weekday: z.coerce.number<string>().int().min(1).max(7),
        opens: hhmm,
        closes: hhmm,
      }),
    ),
    closures: z.array(z.object({ date: z.string().refine(isDate, "A date such as 2026-12-25.") })),
    buffer_minutes: minutes(0, 240),
    slot_step_minutes: minutes(5, 240),
    require_approval: z.boolean(),
  })
  .superRefine((v, ctx) => {
    v.business_hours.forEach((w, i) => {
      if (w.closes <= w.opens)
        ctx.addIssue({
          code: "custom",
          path: ["business_hours", i, "closes"],
          message: "Closes after it opens.",
        });
      const clash = v.business_hours.some(
        (o, j) => j < i && o.weekday === w.weekday && o.opens < w.closes && w.opens < o.closes,
      );
      if (clash)
        ctx.addIssue({
          code: "custom",
          path: ["business_hours", i, "opens"],
          message: "Overlaps another window of this day.",
        });
    });
  })
  .transform((v) => ({
    ...v,
    business_hours: [...v.business_hours].sort(
      (a, b) => a.weekday - b.weekday || a.opens.localeCompare(b.opens),
    ),
    closures: [...new Set(v.closures.map((c) => c.date))].sort(),
  }));

/** What the form holds before validation. */
export type HoursInput = z.input<typeof hoursSchema>;
/** What is sent. */
export type HoursOutput = z.output<typeof hoursSchema>;
