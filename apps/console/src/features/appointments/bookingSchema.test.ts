import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/errors";
import { bookingSchema, slotTaken } from "./bookingSchema";

const filled = {
  name: " Ana Ruiz ",
  phone: "(555) 010-1234",
  email: "",
  service_id: "",
  date: "2026-12-08",
  slot: "2026-12-08T15:00:00Z",
  notes: " ",
};

describe("booking form", () => {
  it("normalises the customer and sends blanks as null", () => {
    const out = bookingSchema(false).parse(filled);
    expect(out).toMatchObject({
      name: "Ana Ruiz",
      phone: "+15550101234",
      email: null,
      service_id: null,
      notes: null,
    });
  });

  it("needs a customer to book but only a time to reschedule", () => {
    const blank = { ...filled, name: "", phone: "" };
    expect(bookingSchema(false).safeParse(blank).success).toBe(false);
    expect(bookingSchema(true).safeParse(blank).success).toBe(true);
    expect(bookingSchema(true).safeParse({ ...blank, slot: "" }).success).toBe(false);
  });

  it("reads the alternatives of a slot_taken refusal only", () => {
    const taken = new ApiError("taken", "slot_taken", 409, {
      alternatives: ["2026-12-08T15:30:00Z", 7],
    });
    expect(slotTaken(taken)).toEqual(["2026-12-08T15:30:00Z"]);
    expect(slotTaken(new ApiError("no", "validation_failed", 422, {}))).toBeNull();
    expect(slotTaken(new Error("network"))).toBeNull();
  });
});
