import { afterEach, describe, expect, it, vi } from "vitest";
import { BodyBuffers } from "./body-buffers.ts";

describe("BodyBuffers", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("lends a buffer of at least the size asked for, and lends the same one again once it is given back", () => {
    const buffers = new BodyBuffers({ maxBuffers: 2, idleMs: 1_000 });
    const first = buffers.borrow(1_000);
    expect(first?.buffer.length).toBe(1_000);
    first?.giveBack();
    const smaller = buffers.borrow(600);
    expect(smaller?.buffer).toBe(first?.buffer);
    expect(buffers.counts).toEqual({ lent: 1, free: 0 });
  });

  it("lends no more than maxBuffers at once; a buffer given back is lent again", () => {
    const buffers = new BodyBuffers({ maxBuffers: 2, idleMs: 1_000 });
    const a = buffers.borrow(100);
    const b = buffers.borrow(100);
    expect(a && b && a.buffer !== b.buffer).toBe(true);
    expect(buffers.borrow(100)).toBeUndefined();
    b?.giveBack();
    expect(buffers.borrow(100)?.buffer).toBe(b?.buffer);
  });

  it("replaces a free buffer too small for the body instead of holding both", () => {
    const buffers = new BodyBuffers({ maxBuffers: 1, idleMs: 1_000 });
    const small = buffers.borrow(100);
    small?.giveBack();
    const big = buffers.borrow(5_000);
    expect(big?.buffer.length).toBe(5_000);
    expect(big?.buffer).not.toBe(small?.buffer);
    expect(buffers.counts).toEqual({ lent: 1, free: 0 });
    big?.giveBack();
    expect(buffers.counts).toEqual({ lent: 0, free: 1 });
  });

  it("counts a buffer given back twice once", () => {
    const buffers = new BodyBuffers({ maxBuffers: 1, idleMs: 1_000 });
    const a = buffers.borrow(100);
    a?.giveBack();
    const b = buffers.borrow(100);
    a?.giveBack();
    // b is still lent: the second giveBack of a must not free it for someone else.
    expect(buffers.borrow(100)).toBeUndefined();
    expect(buffers.counts).toEqual({ lent: 1, free: 0 });
    b?.giveBack();
  });

  it("drops free buffers after idleMs without a big body, and keeps them while bodies keep coming", () => {
    vi.useFakeTimers();
    const buffers = new BodyBuffers({ maxBuffers: 2, idleMs: 1_000 });
    buffers.borrow(100)?.giveBack();
    vi.advanceTimersByTime(900);
    // Borrowed again before the second was up: the clock starts over when it is given back.
    const again = buffers.borrow(100);
    vi.advanceTimersByTime(900);
    expect(buffers.counts).toEqual({ lent: 1, free: 0 });
    again?.giveBack();
    vi.advanceTimersByTime(999);
    expect(buffers.counts).toEqual({ lent: 0, free: 1 });
    vi.advanceTimersByTime(1);
    expect(buffers.counts).toEqual({ lent: 0, free: 0 });
  });
});
