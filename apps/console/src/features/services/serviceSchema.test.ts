import { describe, expect, it } from "vitest";
import { serviceSchema } from "./serviceSchema";

const typed = {
  name: "Botox",
  currency: "usd",
  price: "1,250.5",
  duration_minutes: "45",
  keywords: "Botox, wrinkles, ,forehead lines",
  is_active: true,
};

describe("the service form", () => {
  it("sends the price in minor units and tidy keywords", () => {
    expect(serviceSchema.parse(typed)).toEqual({
      name: "Botox",
      currency: "USD",
      price_minor: 125_050,
      duration_minutes: 45,
      keywords: ["botox", "wrinkles", "forehead lines"],
      is_active: true,
    });
  });

  it("follows the currency's decimals", () => {
    expect(serviceSchema.parse({ ...typed, currency: "JPY", price: "9000" }).price_minor).toBe(
      9000,
    );
    const yen = serviceSchema.safeParse({ ...typed, currency: "JPY", price: "90.5" });
    expect(yen.success).toBe(false);
    expect(yen.error?.issues[0]?.path).toEqual(["price"]);
    expect(serviceSchema.safeParse({ ...typed, price: "12.345" }).success).toBe(false);
  });

  it("refuses a visit length outside 5 to 480 minutes", () => {
    expect(serviceSchema.safeParse({ ...typed, duration_minutes: "4" }).success).toBe(false);
    expect(serviceSchema.safeParse({ ...typed, duration_minutes: "481" }).success).toBe(false);
  });
});
