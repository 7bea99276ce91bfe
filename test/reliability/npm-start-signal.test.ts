import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LmStudioEmulator } from "../emulator/emulator.ts";

let emu: LmStudioEmulator;
beforeAll(async () => {
  emu = await LmStudioEmulator.start({ preload: ["qwen/qwen3-4b-2507"] });
});
afterAll(async () => {
  await emu.stop();
});

describe("npm start", () => {
  // What Docker and process managers do: SIGTERM to the main process, which is npm, not node.
  it("shuts the service down gracefully on SIGTERM sent to npm's own process", async () => {
    const npm = spawn("npm", ["start", "--silent"], {
      env: { ...process.env, OPENAI_BASE_URL: emu.openaiBaseUrl, PORT: "0", LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    let ready: (url: string) => void = () => {};
    const readyUrl = new Promise<string>((resolve) => {
      ready = resolve;
    });
    createInterface({ input: npm.stdout }).on("line", (line) => {
      lines.push(line);
      const m = /ready at (http:\/\/[^;\s]+)/.exec(line);
      if (m?.[1]) ready(m[1]);
    });
    const exited = once(npm, "exit");
    try {
      const url = await readyUrl;
      expect((await fetch(`${url}/health`)).status).toBe(200);

      npm.kill("SIGTERM");
      const [code] = await exited;
      expect(code).toBe(0);
      expect(lines.some((l) => l.includes('"signal":"SIGTERM"') && l.includes("shutting down"))).toBe(true);
      // Nothing listens any more: the node process went with npm instead of living on as an orphan.
      await expect(fetch(`${url}/health`)).rejects.toThrow();
    } finally {
      if (npm.exitCode === null) npm.kill("SIGKILL");
    }
  });
});

describe("a busy port", () => {
  it("prints one line naming PORT and HOST, not a stack trace, and exits 1", async () => {
    const taken = createServer().listen(0, "127.0.0.1");
    await once(taken, "listening");
    const port = (taken.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, ["src/main.ts"], {
        env: { ...process.env, OPENAI_BASE_URL: emu.openaiBaseUrl, PORT: String(port), HOST: "127.0.0.1" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      const [code] = await once(child, "exit");
      expect(code).toBe(1);
      expect(stderr.trim().split("\n")).toEqual([
        `Cannot listen on 127.0.0.1:${port}: PORT=${port} is already in use. Set PORT (and HOST) to a free port, e.g. PORT=8001 npm start`,
      ]);
    } finally {
      taken.close();
    }
  });
});
