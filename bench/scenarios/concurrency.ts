/** 2. Concurrency 50: rounds of bursts per target (rotating order), with each process's CPU time. */
import { type Context, Errors, perTarget, rotate } from "../lib/context.ts";
import { burst } from "../lib/load.ts";
import { cpuMs } from "../lib/procfs.ts";
import { round, summarize } from "../lib/stats.ts";
import { CONCURRENCY, TARGET_KEYS } from "../lib/targets.ts";

export async function concurrency(ctx: Context) {
  const ts = ctx.only(TARGET_KEYS);
  const perRound = Math.ceil(ctx.n.c50 / ctx.n.c50Rounds);
  ctx.log(`2. concurrency ${CONCURRENCY}: ${ctx.n.c50} per target in ${ctx.n.c50Rounds} interleaved rounds`);
  const lat = perTarget<number[]>(ts, () => []);
  const wall = perTarget(ts, () => ({ ms: 0, cpu: 0, emuCpu: 0 }));
  const errors = perTarget(ts, () => new Errors());
  const emuPid = ctx.emu.child.pid;
  for (let r = 0; r < ctx.n.c50Rounds; r++) {
    for (const t of rotate(ts, r)) {
      // Unmeasured: reopens the 50 connections (Portkey's server closes idle ones after 5 s).
      await burst(t.c50Pool, t.chat, CONCURRENCY, CONCURRENCY);
      const cpu0 = cpuMs(t.child.pid);
      const emu0 = cpuMs(emuPid);
      const b = await burst(t.c50Pool, t.chat, perRound, CONCURRENCY);
      const w = wall[t.key];
      if (w) {
        w.cpu += cpuMs(t.child.pid) - cpu0;
        w.emuCpu += cpuMs(emuPid) - emu0;
        w.ms += b.wallMs;
      }
      lat[t.key]?.push(...b.latencies);
      const e = errors[t.key];
      if (e) {
        e.count += b.errors;
        e.first ??= b.firstError;
      }
    }
    await ctx.admin("/clear", {});
  }
  ctx.checkAlive();
  return perTarget(ts, (t) => {
    const s = summarize(lat[t.key] ?? []);
    const w = wall[t.key] ?? { ms: Number.NaN, cpu: 0, emuCpu: 0 };
    return {
      rps: Math.round((s.n / w.ms) * 1000),
      p50_ms: round(s.p50),
      p99_ms: round(s.p99),
      cpu_cores: round(w.cpu / w.ms),
      emulator_cpu_cores: round(w.emuCpu / w.ms),
      errors: errors[t.key]?.count ?? 0,
      ...(errors[t.key]?.first && { first_error: errors[t.key]?.first }),
    };
  });
}
