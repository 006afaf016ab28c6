import { describe, expect, it } from "vitest";
import {
  addDays,
  formatDateTime,
  formatDay,
  formatDuration,
  formatTime,
  isDate,
  isoWeekday,
  localDate,
  localDayRange,
  mondayOf,
  startOfLocalDay,
  zoneOffsetMinutes,
} from "./time";

describe("clinic time zones", () => {
  it("shows instants in the clinic's zone with the zone named", () => {
    const at = "2026-07-01T18:30:00Z";
    expect(formatDateTime(at, "America/New_York")).toBe("Jul 1, 2:30 PM EDT");
    expect(formatDateTime(at, "Europe/London")).toBe("Jul 1, 7:30 PM GMT+1");
    expect(formatTime(at, "America/Los_Angeles")).toBe("11:30 AM");
  });

  it("takes the offset at the instant, across DST", () => {
    expect(zoneOffsetMinutes(new Date("2026-01-15T12:00:00Z"), "America/New_York")).toBe(-300);
    expect(zoneOffsetMinutes(new Date("2026-07-15T12:00:00Z"), "America/New_York")).toBe(-240);
    expect(zoneOffsetMinutes(new Date("2026-07-15T12:00:00Z"), "Asia/Kolkata")).toBe(330);
  });

  it("finds local midnight on the days clocks change", () => {
    // US DST starts 2026-03-08 at 02:00 local; midnight is still EST (-5).
    expect(startOfLocalDay("2026-03-08", "America/New_York").toISOString()).toBe(
      "2026-03-08T05:00:00.000Z",
    );
    expect(startOfLocalDay("2026-03-09", "America/New_York").toISOString()).toBe(
      "2026-03-09T04:00:00.000Z",
    );
    // DST ends 2026-11-01 at 02:00 local; midnight is still EDT (-4).
    expect(startOfLocalDay("2026-11-01", "America/New_York").toISOString()).toBe(
      "2026-11-01T04:00:00.000Z",
    );
    expect(startOfLocalDay("2026-11-02", "America/New_York").toISOString()).toBe(
      "2026-11-02T05:00:00.000Z",
    );
  });

  it("gives a local day its real length on the days clocks change", () => {
    const hours = (date: string) => {
      const { from, to } = localDayRange(date, "America/New_York");
      return (to.getTime() - from.getTime()) / 3_600_000;
    };
    expect(hours("2026-03-08")).toBe(23);
    expect(hours("2026-11-01")).toBe(25);
    expect(hours("2026-07-01")).toBe(24);
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
  });

  it("puts an instant on the clinic's calendar day, not the browser's", () => {
    const lateEvening = new Date("2026-07-02T03:30:00Z");
    expect(localDate(lateEvening, "America/Los_Angeles")).toBe("2026-07-01");
    expect(localDate(lateEvening, "Europe/Berlin")).toBe("2026-07-02");
  });

  it("formats durations", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(5)).toBe("0:05");
    expect(formatDuration(125)).toBe("2:05");
    expect(formatDuration(3725)).toBe("1:02:05");
  });
});

describe("calendar weeks", () => {
  it("starts weeks on Monday, across month and year ends", () => {
    expect(isoWeekday("2026-12-06")).toBe(7);
    expect(isoWeekday("2026-12-07")).toBe(1);
    expect(mondayOf("2026-12-06")).toBe("2026-11-30");
    expect(mondayOf("2027-01-01")).toBe("2026-12-28");
    expect(mondayOf("2026-12-07")).toBe("2026-12-07");
  });

  it("names a day the same whatever the browser's zone, and checks typed dates", () => {
    expect(formatDay("2026-03-08")).toBe("Sun, Mar 8");
    expect(isDate("2026-02-28")).toBe(true);
    expect(isDate("2026-13-01")).toBe(false);
    expect(isDate("next week")).toBe(false);
  });

  it("gives the week of the spring change 167 hours", () => {
    const zone = "America/New_York";
    const from = startOfLocalDay(mondayOf("2026-03-08"), zone);
    const to = startOfLocalDay(addDays(mondayOf("2026-03-08"), 7), zone);
    expect((to.getTime() - from.getTime()) / 3_600_000).toBe(167);
  });
});
