/**
 * 6. Abort propagation: a client starts a slow stream, waits for its first body byte, aborts; the
 * time until the emulator's record of that chat turns `cancelled`, clocks aligned by the fastest ping.
 */
import { type Context, perTarget, rotate } from "../lib/context.ts";
import { abortAfterFirstChunk, epochNow } from "../lib/load.ts";
import { percentile, round } from "../lib/stats.ts";
import { STREAM_CHUNKS } from "../lib/targets.ts";
import { SLOW_CHUNK_DELAY_MS } from "./many-streams.ts";

interface ChatRecord {
  id: number;
  outcome: string;
  endedAt: number | null;
  chunksSent: number;
}

export async function aborts(ctx: Context) {
  ctx.log(`6. abort propagation, 1 chunk every ${SLOW_CHUNK_DELAY_MS} ms`);
  // The emulator's clock minus ours, from the round trip with the smallest delay.
  let clock = { offset: 0, rtt: Number.POSITIVE_INFINITY };
  for (let i = 0; i < 30; i++) {
    const t0 = epochNow();
    const { now: theirs } = await ctx.admin<{ now: number }>("/now");
    const t1 = epochNow();
    if (t1 - t0 < clock.rtt) clock = { offset: theirs - (t0 + t1) / 2, rtt: t1 - t0 };
  }
  await ctx.admin("/configure", { chunkDelayMs: SLOW_CHUNK_DELAY_MS });
  const ts = ctx.only(["direct", "floor", "service", "service_v1", "service_ollama", "portkey"]);
  const ms = perTarget<number[]>(ts, () => []);
  const outcomes = perTarget<string[]>(ts, () => []);
  for (let i = 0; i < ctx.n.abort; i++) {
    for (const t of rotate(ts, i)) {
      if (t.key === "portkey" && i >= ctx.n.abortPk) continue;
      const { id: last } = await ctx.admin<{ id: number }>("/last-id");
      const { abortedAt } = await abortAfterFirstChunk(t.origin, t.stream);
      const deadline = performance.now() + SLOW_CHUNK_DELAY_MS * (STREAM_CHUNKS + 10);
      let rec: ChatRecord | undefined;
      for (;;) {
        const res = await fetch(`${ctx.emu.admin}/chat?id=${last + 1}`);
        rec = res.ok ? ((await res.json()) as ChatRecord) : undefined;
        if ((rec && rec.outcome !== "pending") || performance.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      if (rec?.outcome === "cancelled" && rec.endedAt !== null) {
        ms[t.key]?.push(rec.endedAt - clock.offset - abortedAt);
        outcomes[t.key]?.push("cancelled");
      } else if (rec && rec.endedAt !== null) {
        const after = Math.round(rec.endedAt - clock.offset - abortedAt);
        outcomes[t.key]?.push(
          `${rec.outcome} ${after} ms after the abort, all ${rec.chunksSent} chunks generated`,
        );
      } else {
        outcomes[t.key]?.push(rec ? `still ${rec.outcome} after the deadline` : "no upstream record");
      }
    }
  }
  await ctx.admin("/configure", { chunkDelayMs: 0 });
  await ctx.admin("/clear", {});
  ctx.checkAlive();
  return perTarget(ts, (t) => {
    const all = [...(ms[t.key] ?? [])].sort((a, b) => a - b);
    const seen = outcomes[t.key] ?? [];
    const allCancelled = all.length > 0 && all.length === seen.length;
    return {
      p50_ms: allCancelled ? round(percentile(all, 50)) : null,
      max_ms: allCancelled ? round(all.at(-1) as number) : null,
      outcomes: allCancelled ? [] : seen,
    };
  });
}
