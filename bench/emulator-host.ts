/**
 * The LM Studio emulator in its own process for the bench, with a small admin HTTP server next to it
 * (another loopback port) so that the bench can change its knobs between scenarios and read its chat
 * records (to time abort propagation). Started by bench/run.ts with `--import ./bench/watchdog.ts`;
 * prints one JSON line `{"emulator": <port>, "admin": <port>}` on stdout when ready.
 *
 *   GET  /now             -> {"now": <epoch ms, sub-ms resolution>}   (clock alignment with the bench)
 *   POST /configure       <- Partial<EmulatorOptions> (chunkDelayMs, reply, ...)
 *   GET  /last-id         -> {"id": <id of the newest chat ever recorded (even if cleared), 0 if none>}
 *   GET  /chat?id=N       -> {"id", "outcome", "stream", "chunksSent", "startedAt", "endedAt"} (epoch ms)
 *   POST /clear           forgets the chat records (they hold request bodies, e.g. 10 MB images)
 */
import http from "node:http";
import { performance } from "node:perf_hooks";
import { type EmulatorOptions, LmStudioEmulator } from "../test/emulator/emulator.ts";

const REGULAR = "qwen/qwen3-4b-2507";
const VISION = "qwen3-vl-4b-instruct";

const initial = JSON.parse(process.argv[2] ?? "{}") as EmulatorOptions;
const emu = await LmStudioEmulator.start({
  ...initial,
  preload: [REGULAR, VISION],
  maxChatRecords: 5_000,
  // LM Studio runs 4 predictions per model at once and queues the rest; the bench measures the hops
  // in front of it, not that queue (1,000 concurrent streams would wait in it).
  parallel: 100_000,
});

/** The newest chat id at the last /clear: ids keep counting after a clear. */
let lastCleared = 0;
const lastId = (): number => emu.chats.at(-1)?.id ?? lastCleared;

const epoch = (t: number | undefined): number | null => (t === undefined ? null : performance.timeOrigin + t);

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const admin = http.createServer({ noDelay: true, keepAlive: true }, (req, res) => {
  const url = new URL(req.url ?? "/", "http://admin");
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    try {
      if (url.pathname === "/now") return send(res, 200, { now: performance.timeOrigin + performance.now() });
      if (url.pathname === "/configure" && req.method === "POST") {
        emu.configure(JSON.parse(Buffer.concat(chunks).toString("utf8")) as Partial<EmulatorOptions>);
        return send(res, 200, { ok: true });
      }
      if (url.pathname === "/last-id") return send(res, 200, { id: lastId() });
      if (url.pathname === "/chat") {
        const id = Number(url.searchParams.get("id"));
        const rec = emu.chats.find((c) => c.id === id);
        if (rec === undefined) return send(res, 404, { error: `no chat ${id}` });
        return send(res, 200, {
          id: rec.id,
          outcome: rec.outcome,
          stream: rec.stream,
          chunksSent: rec.chunksSent,
          startedAt: epoch(rec.startedAt),
          endedAt: epoch(rec.endedAt),
        });
      }
      if (url.pathname === "/clear" && req.method === "POST") {
        lastCleared = lastId();
        emu.chats.length = 0;
        return send(res, 200, { ok: true });
      }
      send(res, 404, { error: "not found" });
    } catch (error) {
      send(res, 500, { error: String(error) });
    }
  });
});
admin.listen(0, "127.0.0.1", () => {
  const addr = admin.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ emulator: emu.port, admin: port })}\n`);
});

const stop = (): void => {
  admin.close();
  void emu.stop().then(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
