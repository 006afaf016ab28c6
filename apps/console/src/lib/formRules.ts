import { z } from "zod";
import { toE164 } from "./phone";

/** A phone typed any common way, sent as E.164 (North American default +1). */
export const e164Phone = z
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
  });

/** An optional email: blank is sent as `null`. */
export const optionalEmail = z
  .union([z.literal(""), z.email("Enter a valid email address.")])
  .transform((v) => (v === "" ? null : v));

/** Optional free text up to `max` characters, trimmed; blank is sent as `null`. */
export const optionalText = (max: number) =>
  z
    .string()
    .max(max, `At most ${max} characters.`)
    .transform((v) => (v.trim() === "" ? null : v.trim()));
