/** E.164: `+`, a country code not starting with 0, at most 15 digits in all (ITU-T E.164). */
export const E164 = /^\+[1-9]\d{1,14}$/;

/** Whether `value` is an E.164 number. */
export function isE164(value: string): boolean {
  return E164.test(value);
}

/**
 * What a person typed (`(555) 010-1234`, `+44 20 7946 0018`) as E.164, or `null`. Ten digits
 * without a `+` are taken as a North American number (+1), as the clinic's own numbers are.
 */
export function toE164(typed: string, defaultCountryCode = "1"): string | null {
  const trimmed = typed.trim();
  const digits = trimmed.replace(/\D/g, "");
  if (trimmed.startsWith("+")) return isE164(`+${digits}`) ? `+${digits}` : null;
  if (digits.length === 10) return `+${defaultCountryCode}${digits}`;
  if (digits.length === 11 && digits.startsWith("1")) return `+${digits}`;
  return null;
}

/** An E.164 number for reading: North American numbers as `+1 555-010-1234`, others as given. */
export function formatPhone(e164: string | null | undefined): string {
  if (!e164) return "—";
  const nanp = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(e164);
  return nanp ? `+1 ${nanp[1]}-${nanp[2]}-${nanp[3]}` : e164;
}

/** SMS segments of `text` (GSM-7: 160 characters, or 153 per part when split). */
export function smsSegments(text: string): number {
  if (text.length === 0) return 0;
  return text.length <= 160 ? 1 : Math.ceil(text.length / 153);
}

/** The name the voice agent records for a caller who gave none (`voice_agent::UNKNOWN_CALLER`). */
export const UNKNOWN_CALLER = "Unknown Caller";

/** How a caller is shown: their name when known, else their number. */
export function callerLabel(
  name: string | null | undefined,
  number: string | null | undefined,
): string {
  return name && name !== UNKNOWN_CALLER ? name : formatPhone(number);
}
