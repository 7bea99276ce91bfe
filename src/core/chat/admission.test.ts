import { describe, expect, it } from "vitest";
import { Admission } from "./admission.ts";

describe("Admission", () => {
  it("runs up to the limit, queues in order, refuses beyond the queue", async () => {
    const a = new Admission({ maxConcurrent: 2, maxQueued: 1, queueTimeoutMs: 1_000 });
    const r1 = await a.acquire();
    await a.acquire();
    const order: number[] = [];
    const queued = a.acquire().then((release) => {
      order.push(3);
      return release;
    });
    await expect(a.acquire()).rejects.toMatchObject({ status: 429, code: "queue_full" });
    expect(a.running).toBe(2);
    r1();
    r1(); // releasing twice frees one slot only
    const r3 = await queued;
    expect(order).toEqual([3]);
    expect(a.running).toBe(2);
    r3();
    expect(a.running).toBe(1);
  });

  it("times out and aborts queued waiters, freeing their queue places", async () => {
    const a = new Admission({ maxConcurrent: 1, maxQueued: 2, queueTimeoutMs: 30 });
    await a.acquire();
    await expect(a.acquire()).rejects.toMatchObject({ status: 429, code: "queue_timeout" });
    const controller = new AbortController();
    const waiting = a.acquire(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ status: 499, code: "cancelled" });
    expect(a.queued).toBe(0);
  });

  it("takes a free slot without waiting, but never ahead of a queued waiter", async () => {
    const a = new Admission({ maxConcurrent: 1, maxQueued: 2, queueTimeoutMs: 1_000 });
    const first = a.tryAcquire();
    expect(first).toBeTypeOf("function");
    expect(a.tryAcquire()).toBeUndefined(); // the only slot is taken
    const queued = a.acquire();
    expect(a.queued).toBe(1);
    first?.();
    // The slot went to the waiter: a newcomer finds none, though nobody waits any more.
    expect(a.tryAcquire()).toBeUndefined();
    const second = await queued;
    expect(a.running).toBe(1);
    second();
    expect(a.running).toBe(0);
    expect(a.tryAcquire()).toBeTypeOf("function");
  });
});
