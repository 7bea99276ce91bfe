import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LmStudioEmulator } from "../emulator/emulator.ts";

let emu: LmStudioEmulator;
beforeAll(async () => {
  emu = await LmStudioEmulator.start();
});
afterAll(async () => {
  await emu.stop();
});

/** Starts the service as `npm start` does and returns its stdout lines up to the ready line. */
async function startupLines(env: Record<string, string>): Promise<string[]> {
  const child = spawn(process.execPath, ["src/main.ts"], {
    env: { ...process.env, OPENAI_BASE_URL: emu.openaiBaseUrl, PORT: "0", ...env },
    stdio: ["ignore", "pipe", "ignore"],
  });
  const lines: string[] = [];
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      lines.push(line);
      if (line.includes("ready at")) break;
    }
  } finally {
    child.kill("SIGKILL");
  }
  return lines;
}

describe("LOG_FORMAT", () => {
  it("json (the default): one JSON object per line", async () => {
    const lines = await startupLines({});
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty("msg");
  });

  it("pretty: readable lines with the time, level and message, not JSON", async () => {
    const lines = await startupLines({ LOG_FORMAT: "pretty" });
    const ready = lines.find((l) => l.includes("ready at"));
    expect(ready).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: lmstudio-service ready at http:\/\/127\.0\.0\.1:\d+/,
    );
    expect(() => JSON.parse(ready ?? "")).toThrow();
  });
});
