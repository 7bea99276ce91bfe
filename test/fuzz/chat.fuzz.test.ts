/**
 * Never crash on input, chat endpoints: 1,000 generated invalid bodies each for /chat,
 * /chat/regular and /chat/vision and their NDJSON /stream variants (a 422 before any stream).
 */
import { it } from "vitest";
import { CHAT_ENDPOINTS, checkErrorAnswer, defineFuzzSuite, post } from "./suite.ts";

defineFuzzSuite("chat", CHAT_ENDPOINTS, ({ stack, expectHealthy, expectNothingUpstream }) => {
  it("raw (not escaped) surrogates and invalid UTF-8 inside a role are a 4xx, never a crash", async () => {
    const raw = [
      Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate encoded as UTF-8 (CESU-8): invalid UTF-8
      Buffer.from([0xff, 0xfe]),
      Buffer.from([0xc0, 0xaf]), // overlong "/"
      Buffer.from("us\ud800er"), // escaped: valid JSON, a lone surrogate in the string
    ];
    for (const { path } of CHAT_ENDPOINTS) {
      for (const bytes of raw) {
        const body = Buffer.concat([
          Buffer.from('{"messages":[{"role":"user'),
          bytes,
          Buffer.from('","content":"hi"}]}'),
        ]);
        const a = await post(`${stack().url}${path}`, body);
        checkErrorAnswer({ label: `${path} ${bytes.toString("hex")}`, text: "", status: [400, 422] }, a);
      }
    }
    expectNothingUpstream();
  });

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
