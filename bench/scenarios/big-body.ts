/**
 * 5. A 10 MiB PNG, base64 in the JSON body: to /chat/vision (the reference), as an `image_url` data
 * URL to /v1/chat/completions (the service's /v1, the floors, Portkey, direct). Latency p50 and the
 * peak RSS growth of the process that handles it. The service runs on two processes of its own here
 * (one per surface), so that each growth is that surface's alone.
 */
import { type Context, perTarget, rotate } from "../lib/context.ts";
import { makePng } from "../lib/image.ts";
import { pool, type RequestSpec, timed } from "../lib/load.ts";
import { stop } from "../lib/processes.ts";
import { MiB, RssSampler, rssBytes } from "../lib/procfs.ts";
import { round, summarize } from "../lib/stats.ts";
import {
  DIRECT_HEADERS,
  H_JSON,
  LAST_WORD,
  makeTarget,
  openaiSpec,
  portkeyHeaders,
  referenceChat,
  startService,
  type Target,
  VISION,
} from "../lib/targets.ts";

const IMAGE_BYTES = 10 * MiB;

export async function bigBody(ctx: Context) {
  ctx.log(`5. a 10 MB image: ${ctx.n.image} per target`);
  const png = makePng(IMAGE_BYTES);
  const b64 = png.toString("base64");
  const openaiImage = Buffer.from(
    JSON.stringify({
      model: VISION,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Describe this image." },
            { type: "image_url", image_url: { url: `data:image/png;base64,${b64}` } },
          ],
        },
      ],
    }),
  );
  const referenceImage = Buffer.from(
    JSON.stringify({
      messages: [
        {
          role: "user",
          content: "Describe this image.",
          images: [{ data_base64: b64, mime_type: "image/png" }],
        },
      ],
    }),
  );
  const openai = (headers: Record<string, string>): RequestSpec => ({
    path: "/v1/chat/completions",
    headers,
    body: openaiImage,
    expect: LAST_WORD,
  });
  const [svcChat, svcV1] = await Promise.all([
    startService(ctx.emu.origin, "service_image_chat"),
    startService(ctx.emu.origin, "service_image_v1"),
  ]);
  // Warmed like the others were (JIT): 200 chats each before the first image.
  for (const s of [svcChat, svcV1]) {
    const warm = pool(s.origin, 1);
    for (let i = 0; i < (ctx.quick ? 30 : 200); i++)
      await timed(warm, s === svcChat ? referenceChat : openaiSpec(DIRECT_HEADERS, false));
    await warm.close();
  }
  const base = ctx.only(["direct", "floor", "floor_fastify", "service", "service_v1", "portkey"]);
  const ts: Target[] = base.map((t) =>
    t.key === "service"
      ? makeTarget(t, svcChat.origin, svcChat.child, t.chat, t.stream)
      : t.key === "service_v1"
        ? makeTarget(t, svcV1.origin, svcV1.child, t.chat, t.stream)
        : t,
  );
  const specs = perTarget<RequestSpec>(ts, (t) =>
    t.key === "service" || t.key.startsWith("variant_")
      ? { path: "/chat/vision", headers: H_JSON, body: referenceImage, expect: LAST_WORD }
      : openai(t.key === "portkey" ? portkeyHeaders(ctx.emu.origin) : DIRECT_HEADERS),
  );
  const lat = perTarget<number[]>(ts, () => []);
  const errors = perTarget(ts, () => 0);
  // Two warm-ups each (i < 0), then the measured ones with every process's RSS sampled.
  const before = perTarget(ts, () => 0);
  let samplers: Map<Target, RssSampler> | undefined;
  for (let i = -2; i < ctx.n.image; i++) {
    if (i === 0) {
      samplers = new Map();
      for (const t of ts) {
        before[t.key] = rssBytes(t.child.pid);
        samplers.set(t, new RssSampler(t.child.pid, 10));
      }
    }
    for (const t of rotate(ts, Math.max(0, i))) {
      const spec = specs[t.key];
      if (!spec) continue;
      try {
        const ms = await timed(t.seqPool, spec);
        if (i >= 0) lat[t.key]?.push(ms);
      } catch (error) {
        errors[t.key] = (errors[t.key] ?? 0) + 1;
        ctx.log(`image via ${t.key}: ${String(error).slice(0, 200)}`);
      }
    }
    await ctx.admin("/clear", {}); // the emulator keeps request bodies
  }
  const peaks = new Map([...(samplers ?? [])].map(([t, s]) => [t, s.stop()]));
  for (const t of ts) {
    if (t.key === "service" || t.key === "service_v1")
      await Promise.all([t.seqPool.close(), t.c50Pool.close()]);
  }
  await Promise.all([stop(svcChat.child), stop(svcV1.child)]);
  ctx.checkAlive();
  const direct = summarize(lat.direct ?? []).p50;
  return {
    png_bytes: png.length,
    body_bytes: { reference: referenceImage.length, openai: openaiImage.length },
    targets: perTarget(ts, (t) => {
      const p50 = summarize(lat[t.key] ?? []).p50;
      const growth = (peaks.get(t) ?? Number.NaN) - (before[t.key] ?? Number.NaN);
      const body =
        t.key === "service" || t.key.startsWith("variant_") ? referenceImage.length : openaiImage.length;
      return {
        p50_ms: round(p50),
        added_p50_ms: round(p50 - direct),
        rss_before_mb: round((before[t.key] ?? Number.NaN) / MiB),
        rss_growth_mb: round(growth / MiB),
        rss_growth_x_body: round(growth / body),
        errors: errors[t.key] ?? 0,
      };
    }),
  };
}
