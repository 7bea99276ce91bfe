/** 3. Streaming, 20 chunks 2 ms apart: time to first body byte and total, interleaved. */
import { type Context, Errors, perTarget, rotate } from "../lib/context.ts";
import { timedStream } from "../lib/load.ts";
import { round, summarize } from "../lib/stats.ts";
import { STREAM_CHUNKS } from "../lib/targets.ts";
import { SEQUENTIAL_TARGETS } from "./sequential.ts";

export const STREAM_CHUNK_DELAY_MS = 2;

export async function streaming(ctx: Context) {
  const ts = ctx.only(SEQUENTIAL_TARGETS);
  ctx.log(
    `3. streaming, ${STREAM_CHUNKS} chunks ${STREAM_CHUNK_DELAY_MS} ms apart: ${ctx.n.stream} per target`,
  );
  await ctx.admin("/configure", { chunkDelayMs: STREAM_CHUNK_DELAY_MS });
  const ttfb = perTarget<number[]>(ts, () => []);
  const total = perTarget<number[]>(ts, () => []);
  const errors = perTarget(ts, () => new Errors());
  for (let i = 0; i < ctx.n.stream; i++) {
    for (const t of rotate(ts, i)) {
      try {
        const s = await timedStream(t.seqPool, t.stream);
        ttfb[t.key]?.push(s.ttfb);
        total[t.key]?.push(s.total);
      } catch (error) {
        errors[t.key]?.note(error);
      }
    }
  }
  await ctx.admin("/configure", { chunkDelayMs: 0 });
  await ctx.admin("/clear", {});
  ctx.checkAlive();
  const d = { ttfb: summarize(ttfb.direct ?? []).p50, total: summarize(total.direct ?? []).p50 };
  return perTarget(ts, (t) => {
    const a = summarize(ttfb[t.key] ?? []);
    const b = summarize(total[t.key] ?? []);
    return {
      ttfb_p50_ms: round(a.p50),
      ttfb_p99_ms: round(a.p99),
      ttfb_added_ms: round(a.p50 - d.ttfb),
      total_p50_ms: round(b.p50),
      total_added_ms: round(b.p50 - d.total),
      errors: errors[t.key]?.count ?? 0,
      ...(errors[t.key]?.first && { first_error: errors[t.key]?.first }),
    };
  });
}
