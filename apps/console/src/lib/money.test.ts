import { describe, expect, it } from "vitest";
import { formatMoney, minorDigits, parseMoney } from "./money";

describe("money in minor units", () => {
  it("formats by the currency's own decimals", () => {
    expect(formatMoney(12345, "USD")).toBe("$123.45");
    expect(formatMoney(0, "USD")).toBe("$0.00");
    expect(formatMoney(1500, "JPY")).toBe("¥1,500");
    expect(formatMoney(1234, "KWD")).toContain("1.234");
    expect(formatMoney(250000, "EUR", "de-DE")).toBe("2.500,00\u00a0€");
  });

  it("knows each currency's minor digits", () => {
    expect(minorDigits("USD")).toBe(2);
    expect(minorDigits("JPY")).toBe(0);
    expect(minorDigits("KWD")).toBe(3);
  });

  it("parses what people type, without floating-point drift", () => {
    expect(parseMoney("123.45")).toBe(12345);
    expect(parseMoney("0.1")).toBe(10);
    expect(parseMoney("1,200")).toBe(120000);
    expect(parseMoney(" 80 ")).toBe(8000);
    expect(parseMoney("19.99")).toBe(1999);
    expect(parseMoney("1500", "JPY")).toBe(1500);
  });

  it("refuses what is not an amount", () => {
    for (const bad of ["", "-5", "1.234", "abc", "1.2.3", "$5"]) {
      expect(parseMoney(bad), bad).toBeNull();
    }
    expect(parseMoney("15.5", "JPY")).toBeNull();
  });
});
