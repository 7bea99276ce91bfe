// @ts-check
// Reasoning sent inside the answer: models such as Qwen3 open it with <think> and close it with </think>.

/**
 * Splits leading `<think>…</think>` reasoning from the answer; while it is still open (streaming),
 * everything after `<think>` is reasoning.
 * @param {string} text
 * @returns {{ reasoning: string, content: string, thinking: boolean }}
 */
export function splitThink(text) {
  const match = /^\s*<think>/.exec(text);
  if (!match) return { reasoning: "", content: text, thinking: false };
  const body = text.slice(match[0].length);
  const close = body.indexOf("</think>");
  if (close < 0) return { reasoning: body.trim(), content: "", thinking: true };
  return {
    reasoning: body.slice(0, close).trim(),
    content: body.slice(close + "</think>".length).replace(/^\s+/, ""),
    thinking: false,
  };
}
