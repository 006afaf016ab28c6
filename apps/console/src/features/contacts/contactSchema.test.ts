import { describe, expect, it } from "vitest";
import { contactEditSchema, contactSchema, reachableStages } from "./contactSchema";

const valid = {
  name: "Ann Lee",
  phone: "(555) 010-1234",
  email: "",
  company: "",
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

describe("the contact edit form", () => {
  it("keeps a blank company as the empty string that clears it, and checks the score", () => {
    const edit = { ...valid, company: "  ", lead_status: "contacted", lead_score: "70" };
    const parsed = contactEditSchema.parse(edit);
    expect(parsed.company).toBe("");
    expect(parsed.lead_score).toBe(70);
    expect(contactEditSchema.safeParse({ ...edit, lead_score: "101" }).success).toBe(false);
    expect(contactEditSchema.safeParse({ ...edit, lead_score: "7.5" }).success).toBe(false);
  });

  it("offers only forward pipeline moves", () => {
    expect(reachableStages("new")).toEqual(["new", "contacted", "booked", "lost"]);
    expect(reachableStages("contacted")).toEqual(["contacted", "booked", "lost"]);
    expect(reachableStages("lost")).toEqual(["booked", "lost"]);
  });
});
