/**
 * Never crash on input, chat endpoints: 1,000 generated invalid bodies each for /chat,
 * /chat/regular and /chat/vision and their NDJSON /stream variants (a 422 before any stream).
 */
import { it } from "vitest";
import { CHAT_ENDPOINTS, checkErrorAnswer, defineFuzzSuite, post } from "./suite.ts";

defineFuzzSuite("chat", CHAT_ENDPOINTS, ({ stack, expectHealthy, expectNothingUpstream }) => {
  it("10,001 messages (one over the limit) is a 422 at body.messages", async () => {
    const messages = Array.from({ length: 10_001 }, () => ({ role: "user", content: "hi" }));
    const text = JSON.stringify({ messages });
    for (const { path } of CHAT_ENDPOINTS) {
      const a = await post(`${stack().url}${path}`, text);
      checkErrorAnswer({ label: `${path} 10001 messages`, text, status: [422], loc: ["messages"] }, a);
    }
    await expectHealthy();
    expectNothingUpstream();
  }, 30_000);
});
