/** 1. Sequential non-streaming chat: targets take turns request by request (rotating order). */
import { type Context, Errors, perTarget, rotate } from "../lib/context.ts";
import { timed } from "../lib/load.ts";
import { round, summarize } from "../lib/stats.ts";
import type { TargetKey } from "../lib/targets.ts";

export const SEQUENTIAL_TARGETS: TargetKey[] = [
  "direct",
  "floor",
  "floor_fastify",
  "service",
  "service_v1",
  "service_ollama",
  "portkey",
];

export async function sequential(ctx: Context) {
  const ts = ctx.only(SEQUENTIAL_TARGETS);
  ctx.log(`1. sequential non-streaming chat: ${ctx.n.seq} per target, interleaved`);
  const samples = perTarget<number[]>(ts, () => []);
  const errors = perTarget(ts, () => new Errors());
  for (let i = 0; i < ctx.n.seq; i++) {
    for (const t of rotate(ts, i)) {
      try {
        samples[t.key]?.push(await timed(t.seqPool, t.chat));
      } catch (error) {
        errors[t.key]?.note(error);
      }
    }
  }
  await ctx.admin("/clear", {});
  ctx.checkAlive();
  const direct = summarize(samples.direct ?? []).p50;
  return {
    samples,
    result: perTarget(ts, (t) => {
      const s = summarize(samples[t.key] ?? []);
      return {
        p50_ms: round(s.p50),
        p99_ms: round(s.p99),
        added_p50_ms: round(s.p50 - direct),
        errors: errors[t.key]?.count ?? 0,
        ...(errors[t.key]?.first && { first_error: errors[t.key]?.first }),
      };
    }),
  };
}
