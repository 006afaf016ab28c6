import { describe, expect, it } from "vitest";
import { contactSchema } from "./contactSchema";

const valid = {
  name: "Ann Lee",
  phone: "(555) 010-1234",
  email: "",
  lead_temperature: "warm",
  notes: " ",
};

describe("the new-contact form", () => {
  it("normalises the phone to E.164 and empty optionals to null", () => {
    const parsed = contactSchema.parse(valid);
    expect(parsed.phone).toBe("+15550101234");
    expect(parsed.email).toBeNull();
    expect(parsed.notes).toBeNull();
  });

  it("refuses a number that is not a phone number, on the phone field", () => {
    const result = contactSchema.safeParse({ ...valid, phone: "12345" });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(["phone"]);
  });

  it("refuses a bad email and an empty name", () => {
    expect(contactSchema.safeParse({ ...valid, email: "ann@" }).success).toBe(false);
    expect(contactSchema.safeParse({ ...valid, name: "  " }).success).toBe(false);
  });
});
