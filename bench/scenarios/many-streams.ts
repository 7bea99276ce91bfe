/**
 * 4. 1,000 concurrent /chat/stream requests, one chunk every 100 ms: errors, peak RSS, CPU per chunk.
 * First on a service of its own (started now, warmed up), then on the service that ran 1-3.
 */
import { type Context, Errors } from "../lib/context.ts";
import { pool, RequestFailed, timed } from "../lib/load.ts";
import { assertAlive, stop } from "../lib/processes.ts";
import { cpuMs, MiB, RssSampler, rssBytes } from "../lib/procfs.ts";
import { round } from "../lib/stats.ts";
import { referenceChat, referenceStream, STREAM_CHUNKS, startService } from "../lib/targets.ts";

export const SLOW_CHUNK_DELAY_MS = 100;

async function manyStreams(origin: string, pid: number, count: number) {
  const p = pool(origin, count);
  // Open the connections first: the scenario is about open streams, not TCP handshakes.
  await Promise.all(
    Array.from({ length: count }, () =>
      p.request({ path: "/__bench_ready", method: "GET" }).then((res) => res.body.dump()),
    ),
  );
  const rssBefore = rssBytes(pid);
  const sampler = new RssSampler(pid, 20);
  const cpu0 = cpuMs(pid);
  let open = 0;
  let peakOpen = 0;
  let chunks = 0;
  const errors = new Errors();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: count }, async () => {
      try {
        const res = await p.request({
          path: referenceStream.path,
          method: "POST",
          headers: referenceStream.headers,
          body: referenceStream.body,
        });
        open++;
        peakOpen = Math.max(peakOpen, open);
        let text = "";
        try {
          for await (const c of res.body) text += (c as Buffer).toString("utf8");
        } finally {
          open--;
        }
        const lines = text.split("\n").filter(Boolean);
        const fragments = lines.filter((l) => l.includes('"type":"fragment"')).length;
        chunks += fragments;
        const done = lines.at(-1)?.includes('"type":"done"') ?? false;
        if (res.statusCode !== 200 || fragments !== STREAM_CHUNKS || !done) {
          throw new RequestFailed(
            `HTTP ${res.statusCode}, ${fragments} fragments, last line ${lines.at(-1)}`,
          );
        }
      } catch (error) {
        errors.note(error);
      }
    }),
  );
  const wallMs = performance.now() - t0;
  const cpu = cpuMs(pid) - cpu0;
  const peakRss = sampler.stop();
  await p.close();
  return {
    errors: errors.count,
    ...(errors.first && { first_error: errors.first }),
    peak_open: peakOpen,
    rss_before_mb: round(rssBefore / MiB),
    rss_peak_mb: round(peakRss / MiB),
    wall_ms: Math.round(wallMs),
    cpu_us_per_chunk: round((cpu * 1000) / Math.max(1, chunks)),
  };
}

export async function manyStreamsScenario(ctx: Context) {
  const count = ctx.n.streams;
  ctx.log(`4. ${count} concurrent streams through the service, 1 chunk every ${SLOW_CHUNK_DELAY_MS} ms`);
  const fresh = await startService(ctx.emu.origin, "service_streams");
  const warm = pool(fresh.origin, 1);
  for (let i = 0; i < (ctx.quick ? 30 : 200); i++) await timed(warm, referenceChat);
  await warm.close();
  await ctx.admin("/configure", { chunkDelayMs: SLOW_CHUNK_DELAY_MS });
  const own = await manyStreams(fresh.origin, fresh.child.pid, count);
  assertAlive(fresh.child);
  await stop(fresh.child);
  const [svc] = ctx.only(["service"]);
  const afterLoad = svc ? await manyStreams(svc.origin, svc.child.pid, count) : undefined;
  await ctx.admin("/configure", { chunkDelayMs: 0 });
  await ctx.admin("/clear", {});
  ctx.checkAlive();
  return { count, fresh_service: own, after_scenarios_1_3: afterLoad };
}
