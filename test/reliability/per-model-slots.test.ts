import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJson } from "../api/helpers.ts";
import { postJson, type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";
const chat = (content: string) => ({ model_key: MODEL, messages: [{ role: "user", content }] });

describe("MAX_CHATS_PER_MODEL: chats beyond LM Studio's parallel slots wait in the service", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { MAX_CHATS_PER_MODEL: "1" }, emulator: { preload: [MODEL] } });
  });
  afterAll(async () => {
    await stack.close();
  });

  /** A chat LM Studio never answers holds the model's only slot; the function returned ends it. */
  async function holdTheOnlySlot(): Promise<() => Promise<void>> {
    stack.emu.reset({ preload: [MODEL] });
    stack.emu.hangNextChat();
    const holder = new AbortController();
    const first = fetch(`${stack.url}/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat("first")),
      signal: holder.signal,
    }).catch(() => undefined);
    await stack.emu.waitFor(() => stack.emu.chats.length === 1);
    return async () => {
      holder.abort();
      await first;
    };
  }

  /** /health as soon as it shows one request waiting for the model's slot (or after 200 tries). */
  async function healthOnceOneQueues() {
    let health = await getJson(`${stack.url}/health`);
    for (let i = 0; i < 200 && health.json.chats.per_model[MODEL]?.queued !== 1; i++) {
      health = await getJson(`${stack.url}/health`);
    }
    return health;
  }

  it("the second chat for a model waits here (shown in /health) and goes once the first ends", async () => {
    const release = await holdTheOnlySlot();

    const second = postJson(`${stack.url}/chat`, chat("second"));
    const health = await healthOnceOneQueues();
    expect(health.json.chats.per_model[MODEL]).toEqual({ running: 1, queued: 1 });
    expect(stack.emu.chats).toHaveLength(1);

    await release();
    const r = await second;
    expect(r.status).toBe(200);
    expect(stack.emu.chats).toHaveLength(2);
    expect(stack.emu.chats[0]?.outcome).toBe("cancelled");
    expect((await getJson(`${stack.url}/health`)).json.chats).toEqual({
      running: 0,
      queued: 0,
      per_model: {},
    });
  });

  it("requests through /v1 wait for the same per-model slots", async () => {
    const release = await holdTheOnlySlot();

    const viaV1 = postJson(`${stack.url}/v1/chat/completions`, {
      model: MODEL,
      messages: [{ role: "user", content: "second" }],
    });
    const health = await healthOnceOneQueues();
    expect(health.json.chats.per_model[MODEL]).toEqual({ running: 1, queued: 1 });
    expect(stack.emu.chats).toHaveLength(1);

    await release();
    const r = await viaV1;
    expect(r.status).toBe(200);
    expect(r.json.choices[0].message.content).toContain("second");
  });
});
