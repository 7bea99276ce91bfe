import type { FetchFn } from "../openai-compatible/undici-fetch.ts";

/**
 * At start-up, `GET {OPENAI_BASE_URL}/models`: LM Studio answers a wrong path with HTTP 200 and
 * `{"error":"Unexpected endpoint or method. …"}`, so a base URL without `/v1` would otherwise show
 * only as failed chats. Returns a warning for the log, or undefined when all is well (or LM Studio
 * is simply not up yet: that is reported by /health, and the service waits for it).
 */
export async function probeOpenAiBaseUrl(
  baseUrl: string,
  apiKey: string,
  fetch: FetchFn,
  timeoutMs: number,
): Promise<string | undefined> {
  let status: number;
  let text: string;
  try {
    const res = await fetch(`${baseUrl}/models`, {
      headers: { authorization: `Bearer ${apiKey}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.status;
    text = await res.text();
  } catch {
    return undefined;
  }
  if (status === 401 || status === 403) {
    return `LM Studio refused OPENAI_API_KEY at ${baseUrl}/models (HTTP ${status}): set it to your LM Studio API token`;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const data = (body as { data?: unknown } | undefined)?.data;
  if (status === 200 && Array.isArray(data)) return undefined;
  const unexpected = /unexpected endpoint/i.test(text);
  return (
    `OPENAI_BASE_URL=${baseUrl} does not look like LM Studio's OpenAI-compatible API: GET /models answered ` +
    `HTTP ${status}${unexpected ? ' "Unexpected endpoint"' : " without a model list"}. It usually ends in /v1, e.g. http://localhost:1234/v1`
  );
}
