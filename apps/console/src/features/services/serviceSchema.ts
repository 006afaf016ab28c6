import { z } from "zod";
import { minorDigits, parseMoney } from "../../lib/money";

/**
 * A service as typed: the price in the currency's major units (`"150"`, `"89.50"`), sent as
 * minor units (`price_minor`, seed 001 §16 pricing engine); keywords comma-separated.
 */
export const serviceSchema = z
  .object({
    name: z.string().trim().min(1, "Enter the service's name.").max(200),
    currency: z
      .string()
      .trim()
      .toUpperCase()
      .regex(/^[A-Z]{3}$/, "A three-letter ISO 4217 code, for example USD."),
    price: z.string(),
    duration_minutes: z.coerce
      .number<string>()
      .int("Whole minutes.")
      .min(5, "5 to 480 minutes.")
      .max(480, "5 to 480 minutes."),
    keywords: z.string().transform((text) =>
      text
        .split(",")
        .map((k) => k.trim().toLowerCase())
        .filter(Boolean),
    ),
    is_active: z.boolean(),
  })
  .transform((v, ctx) => {
    const price_minor = parseMoney(v.price, v.currency);
    if (price_minor === null) {
      const digits = minorDigits(v.currency);
      ctx.addIssue({
        code: "custom",
        path: ["price"],
        message:
          digits === 0
            ? `A whole amount of ${v.currency}, for example 1500.`
            : `An amount with at most ${digits} decimals, for example 150.00.`,
      });
      return z.NEVER;
    }
    const { price: _typed, ...rest } = v;
    return { ...rest, price_minor };
  });

/** What the form holds before validation. */
export type ServiceInput = z.input<typeof serviceSchema>;
/** What is sent to `POST /api/services` and `PATCH /api/services/{id}`. */
export type ServiceOutput = z.output<typeof serviceSchema>;
