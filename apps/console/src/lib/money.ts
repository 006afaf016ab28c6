/** Money is integer minor units (cents) end to end; only display converts. */

/** Digits after the decimal point of `currency` (JPY 0, USD 2, KWD 3), from `Intl`. */
export function minorDigits(currency: string): number {
  return (
    new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits ?? 2
  );
}

/** `minor` units of `currency` as the locale writes them: `formatMoney(12345, "USD")` → `$123.45`. */
export function formatMoney(minor: number, currency = "USD", locale = "en-US"): string {
  const value = minor / 10 ** minorDigits(currency);
  return new Intl.NumberFormat(locale, { style: "currency", currency }).format(value);
}

/**
 * A price typed by a person (`"123.45"`, `"1,200"`, `"80"`) as minor units, or `null` when it is
 * not a non-negative amount with at most the currency's decimals.
 */
export function parseMoney(text: string, currency = "USD"): number | null {
  const digits = minorDigits(currency);
  const cleaned = text.trim().replace(/[,\s]/g, "");
  const pattern = digits === 0 ? /^\d+$/ : new RegExp(`^\\d+(\\.\\d{1,${digits}})?$`);
  if (!pattern.test(cleaned)) return null;
  const [whole = "0", fraction = ""] = cleaned.split(".");
  return Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, "0") || "0");
}
