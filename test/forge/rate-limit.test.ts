import { describe, expect, it } from "vitest";
import { rateLimitWaitSeconds } from "../../src/forge/rate-limit.js";

const now = 1_700_000_000_000;

describe("rateLimitWaitSeconds", () => {
  it("takes retry-after in seconds first", () => {
    expect(rateLimitWaitSeconds({ "retry-after": "7", "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 600) }, now)).toBe(7);
  });

  it("waits until x-ratelimit-reset when the quota is exhausted", () => {
    expect(rateLimitWaitSeconds({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 42) }, now)).toBe(42);
    expect(rateLimitWaitSeconds({ "x-ratelimit-remaining": 0, "x-ratelimit-reset": now / 1000 - 5 }, now)).toBe(0);
  });

  it("asks for nothing while quota remains or without headers", () => {
    expect(rateLimitWaitSeconds({ "x-ratelimit-remaining": "12", "x-ratelimit-reset": String(now / 1000 + 42) }, now)).toBeNull();
    expect(rateLimitWaitSeconds({ "x-ratelimit-remaining": "0" }, now)).toBeNull();
    expect(rateLimitWaitSeconds(undefined, now)).toBeNull();
  });
});
