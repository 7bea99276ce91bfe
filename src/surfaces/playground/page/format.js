// @ts-check
// Formatting numbers and answers for people: sizes, durations, usage lines, the copied conversation.

/** @param {number | undefined} bytes */
export function formatBytes(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes <= 0) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** @param {number | undefined} ms */
export function formatMs(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "–";
  if (ms < 1) return "<1 ms";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * The usage and timings of a `done` line as short phrases, in reading order.
 * @param {Record<string, any>} done
 */
export function usageParts(done) {
  const parts = [];
  if (done.model) parts.push(String(done.model));
  if (typeof done.predicted_tokens === "number") {
    const prompt = typeof done.prompt_tokens === "number" ? ` (prompt ${done.prompt_tokens})` : "";
    parts.push(`${done.predicted_tokens} tokens${prompt}`);
  }
  if (typeof done.time_to_first_token_ms === "number")
    parts.push(`first token ${formatMs(done.time_to_first_token_ms)}`);
  if (typeof done.tokens_per_second === "number") parts.push(`${done.tokens_per_second.toFixed(1)} tok/s`);
  if (typeof done.load_ms === "number") parts.push(`load ${formatMs(done.load_ms)}`);
  if (typeof done.queue_ms === "number" && done.queue_ms >= 1)
    parts.push(`queued ${formatMs(done.queue_ms)}`);
  if (done.stop_reason && done.stop_reason !== "stop") parts.push(`stopped: ${done.stop_reason}`);
  return parts;
}

/**
 * The conversation as Markdown, for the clipboard.
 * @param {{ system?: string, turns: Array<{ role: string, content: string, model?: string, images?: number }> }} c
 */
export function conversationToMarkdown({ system, turns }) {
  const blocks = [];
  if (system?.trim()) blocks.push(`**System:** ${system.trim()}`);
  for (const t of turns) {
    const who = t.role === "user" ? "You" : (t.model ?? "Assistant");
    const images = t.images ? ` _(${t.images} image${t.images > 1 ? "s" : ""})_` : "";
    blocks.push(`**${who}:**${images}\n\n${t.content}`);
  }
  return `${blocks.join("\n\n---\n\n")}\n`;
}
