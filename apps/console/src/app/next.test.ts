import { describe, expect, it } from "vitest";
import { safeNext } from "./next";

describe("the page remembered across sign-in", () => {
  it("returns to a path on this origin", () => {
    expect(safeNext("?next=%2Fcalls%2Fabc")).toBe("/calls/abc");
    expect(safeNext("?next=%2Fcontacts%3Fsearch%3Dann")).toBe("/contacts?search=ann");
  });

  it("never leaves the origin or loops", () => {
    for (const search of [
      "",
      "?next=https%3A%2F%2Fevil.example",
      "?next=%2F%2Fevil.example",
      "?next=%2F%5Cevil",
      "?next=%2Fsign-in",
    ]) {
      expect(safeNext(search), search).toBe("/");
    }
  });
});
