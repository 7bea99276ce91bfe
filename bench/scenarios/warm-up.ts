/** Before the scenarios: sequential, concurrent and streamed requests per target (JIT, pools). */
import type { Context } from "../lib/context.ts";
import { burst, timed, timedStream } from "../lib/load.ts";
import { CONCURRENCY } from "../lib/targets.ts";

export async function warmUp(ctx: Context) {
  ctx.log("warm-up");
  for (const t of ctx.targets) {
    for (let i = 0; i < ctx.n.warm; i++) await timed(t.seqPool, t.chat);
    await burst(t.c50Pool, t.chat, ctx.n.warm * 2, CONCURRENCY);
  }
  await ctx.admin("/configure", { chunkDelayMs: 2 });
  for (const t of ctx.targets) for (let i = 0; i < 20; i++) await timedStream(t.seqPool, t.stream);
  await ctx.admin("/configure", { chunkDelayMs: 0 });
  await ctx.admin("/clear", {});
  ctx.checkAlive();
}
