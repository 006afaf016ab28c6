import { describe, expect, it } from "vitest";
import { hoursSchema } from "./hoursSchema";

const typed = {
  time_zone: "America/New_York",
  business_hours: [
    { weekday: "2", opens: "13:00", closes: "17:00" },
    { weekday: "2", opens: "09:00", closes: "12:00" },
    { weekday: "1", opens: "09:00", closes: "17:00" },
  ],
  closures: [{ date: "2026-12-25" }, { date: "2026-12-24" }, { date: "2026-12-25" }],
  buffer_minutes: "10",
  slot_step_minutes: "30",
  require_approval: false,
};

describe("the business hours form", () => {
  it("sends windows by day and time, and each closure once in order", () => {
    const out = hoursSchema.parse(typed);
    expect(out.business_hours.map((w) => `${w.weekday} ${w.opens}`)).toEqual([
      "1 09:00",
      "2 09:00",
      "2 13:00",
    ]);
    expect(out.closures).toEqual(["2026-12-24", "2026-12-25"]);
    expect(out.buffer_minutes).toBe(10);
  });

  it("refuses a window that closes before it opens, or overlaps its day", () => {
    const backwards = hoursSchema.safeParse({
      ...typed,
      business_hours: [{ weekday: "1", opens: "17:00", closes: "09:00" }],
    });
    expect(backwards.error?.issues[0]?.path).toEqual(["business_hours", 0, "closes"]);
    const overlapping = hoursSchema.safeParse({
      ...typed,
      business_hours: [
        { weekday: "3", opens: "09:00", closes: "13:00" },
        { weekday: "3", opens: "12:00", closes: "15:00" },
      ],
    });
    expect(overlapping.error?.issues[0]?.path).toEqual(["business_hours", 1, "opens"]);
  });

  it("keeps the slot grid and buffer within the API's limits", () => {
    expect(hoursSchema.safeParse({ ...typed, slot_step_minutes: "4" }).success).toBe(false);
    expect(hoursSchema.safeParse({ ...typed, buffer_minutes: "241" }).success).toBe(false);
  });
});
