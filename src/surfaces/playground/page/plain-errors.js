// @ts-check
// API failures in plain words: what happened and what to do, with the service's own message as detail.

/**
 * The service's message from any of its error shapes: `{detail}` (a string or FastAPI's list),
 * `{loaded:false, error}` (loads), and `{error:{code,message}}` (stream lines).
 * @param {any} body
 */
export function serviceMessage(body) {
  if (!body || typeof body !== "object") return "";
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) {
    return body.detail
      .map((/** @type {any} */ d) => {
        const where = Array.isArray(d?.loc)
          ? d.loc.filter((/** @type {unknown} */ p) => p !== "body").join(".")
          : "";
        return where ? `${where}: ${d?.msg ?? ""}` : String(d?.msg ?? "");
      })
      .join("; ");
  }
  if (typeof body.error === "string") return body.error.replace(/^Failed to load model: /, "");
  if (body.error && typeof body.error.message === "string")
    return body.error.message.replace(/^Failed to load model: /, "");
  return "";
}

/** @param {any} body */
const codeOf = (body) =>
  typeof body?.code === "string"
    ? body.code
    : typeof body?.error?.code === "string"
      ? body.error.code
      : undefined;

/**
 * @param {{ status: number, body?: any, model?: string }} failure  status 0: the service itself was not reached
 * @returns {{ title: string, detail: string, suggestions: string[] }}
 */
export function describeFailure({ status, body, model }) {
  const detail = serviceMessage(body);
  const code = codeOf(body);
  const suggestions = Array.isArray(body?.suggestions) ? body.suggestions.map(String) : [];
  const named = model ? `“${model}”` : "This model";
  const title = (() => {
    if (status === 0) return "The service cannot be reached: is it still running?";
    if (code === "upstream_unreachable" || (status === 503 && /connect/i.test(detail)))
      return "LM Studio is not reachable: start LM Studio and its local server, then try again.";
    if (code === "model_not_found") return `${named} is not downloaded in LM Studio.`;
    if (code === "model_busy" || status === 409)
      return "Exclusive load refused: a chat is running on a model it would unload. Try again when it ends, or load without “Exclusive”.";
    if (code === "insufficient_memory") return `Not enough memory to load ${model ? named : "this model"}.`;
    if (code === "upstream_timeout" || status === 504) return "LM Studio did not answer in time.";
    if (code === "queue_full" || code === "queue_timeout" || status === 429)
      return "The service is busy with other chats: try again in a moment.";
    if (code === "unauthorized" || status === 401) return "The service needs a valid API key.";
    if (code === "shutting_down") return "The service is shutting down.";
    if (code === "images_not_supported") return `${named} does not accept images: pick a vision model.`;
    if (code === "no_models_loaded" || code === "model_not_loaded")
      return "No model is loaded: load one first.";
    if (status === 413) return "Too large: the image (or the whole message) is over the service's limit.";
    if (status === 404 && model) return `${named} is not downloaded in LM Studio.`;
    if (status === 422 || status === 400) return "The service refused the request.";
    if (code === "upstream_error" || status === 502) return "LM Studio failed to answer.";
    return "Something went wrong.";
  })();
  return { title, detail: detail && detail !== title ? detail : "", suggestions };
}
