import { describe, expect, it } from "vitest";
import { callerLabel, formatPhone, isE164, smsSegments, toE164 } from "./phone";

describe("E.164 phone numbers", () => {
  it("accepts E.164 and nothing else", () => {
    expect(isE164("+15550101234")).toBe(true);
    expect(isE164("+442079460018")).toBe(true);
    for (const bad of ["5550101234", "+0555010", "+1555010123456789", "+1 555 010", ""]) {
      expect(isE164(bad), bad).toBe(false);
    }
  });

  it("normalises what people type", () => {
    expect(toE164("(555) 010-1234")).toBe("+15550101234");
    expect(toE164("1-555-010-1234")).toBe("+15550101234");
    expect(toE164("+44 20 7946 0018")).toBe("+442079460018");
    expect(toE164("12345")).toBeNull();
    expect(toE164("+0 123")).toBeNull();
  });

  it("formats for reading", () => {
    expect(formatPhone("+15550101234")).toBe("+1 555-010-1234");
    expect(formatPhone("+442079460018")).toBe("+442079460018");
    expect(formatPhone(null)).toBe("—");
  });

  it("counts SMS segments (160 characters, 153 per part)", () => {
    expect(smsSegments("")).toBe(0);
    expect(smsSegments("a".repeat(160))).toBe(1);
    expect(smsSegments("a".repeat(161))).toBe(2);
    expect(smsSegments("a".repeat(306))).toBe(2);
    expect(smsSegments("a".repeat(307))).toBe(3);
  });
});

describe("callers", () => {
  it("are shown by name when known, else by number", () => {
    expect(callerLabel("Ann Lee", "+15550101234")).toBe("Ann Lee");
    expect(callerLabel("Unknown Caller", "+15550101234")).toBe("+1 555-010-1234");
    expect(callerLabel(null, null)).toBe("—");
  });
});
