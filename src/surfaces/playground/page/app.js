// The playground's entry: wires the health line, the key dialog, the models panel and the chat.
import { onKeyNeeded, storedKey, storeKey } from "./api.js";
import { createChat } from "./chat.js";
import { createAttachments } from "./images.js";
import { createModelsPanel } from "./models.js";

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));

/** @type {{ regular_model?: string, vision_model?: string }} */
let defaults = {};

async function checkHealth() {
  const box = $("health");
  const text = box.querySelector(".health-text");
  try {
    const res = await fetch("/health", { cache: "no-store" });
    const health = await res.json();
    defaults = health.defaults ?? {};
    const reachable = health.lmstudio?.reachable === true;
    box.dataset.state = reachable ? "ok" : "down";
    text.textContent = reachable
      ? `LM Studio ${health.lmstudio.version ?? ""}`.trim()
      : "LM Studio unreachable";
    box.title = reachable ? "" : (health.lmstudio?.error ?? "");
  } catch {
    box.dataset.state = "down";
    text.textContent = "Service unreachable";
  }
}

// The key: asked for when a call answers 401, kept in sessionStorage (this tab only).
const dialog = /** @type {HTMLDialogElement} */ ($("key-dialog"));
/** @param {"needed" | "rejected" | "change"} reason @returns {Promise<string | null>} */
function askForKey(reason) {
  $("key-reason").textContent =
    reason === "rejected"
      ? "That API key was not accepted. Enter another one."
      : reason === "needed"
        ? "This service needs an API key (API_KEYS is set)."
        : "The API key sent with every call.";
  const input = $("key-input");
  input.value = reason === "change" ? (storedKey() ?? "") : "";
  $("key-button").hidden = false;
  return new Promise((resolve) => {
    /** @param {string | null} value */
    const done = (value) => {
      $("key-form").removeEventListener("submit", onSubmit);
      $("key-cancel").removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      dialog.close();
      resolve(value);
    };
    const onSubmit = (/** @type {Event} */ e) => {
      e.preventDefault();
      done(input.value.trim() || null);
    };
    const onCancel = (/** @type {Event} */ e) => {
      e.preventDefault();
      done(null);
    };
    $("key-form").addEventListener("submit", onSubmit);
    $("key-cancel").addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    input.focus();
  });
}
onKeyNeeded(askForKey);
if (storedKey()) $("key-button").hidden = false;
$("key-button").addEventListener("click", async () => {
  const key = await askForKey("change");
  if (key !== null) {
    storeKey(key);
    await models.refresh();
  }
});

// The model picker follows the models list: LLMs only, the current choice kept across refreshes.
const picker = /** @type {HTMLSelectElement} */ ($("model"));
/** @type {Map<string, import("./models.js").AvailableModel>} */
let byKey = new Map();
/** @param {import("./models.js").AvailableModel[]} list */
function updatePicker(list) {
  const llms = list.filter((m) => m.type !== "embedding");
  byKey = new Map(llms.map((m) => [m.model_key, m]));
  const current = picker.value;
  const options = llms.map((m) => {
    const tags = [
      m.loaded ? "loaded" : models.isLoading(m.model_key) ? "loading" : "",
      m.vision ? "vision" : "",
    ]
      .filter(Boolean)
      .join(", ");
    return new Option(tags ? `${m.model_key} (${tags})` : m.model_key, m.model_key);
  });
  if (options.length === 0) options.push(new Option("Service default", ""));
  picker.replaceChildren(...options);
  const preferred = [current, defaults.regular_model, llms.find((m) => m.loaded)?.model_key].find(
    (k) => k && byKey.has(k),
  );
  if (preferred) picker.value = preferred;
}

const models = createModelsPanel({
  tbody: $("model-rows"),
  errorBox: $("models-error"),
  exclusive: $("exclusive"),
  refreshButton: $("refresh"),
  onModels: updatePicker,
});

const attachments = createAttachments({
  list: $("attachments"),
  input: $("image"),
  dropZone: $("chat"),
  pasteTarget: $("message"),
  onError: (message) => {
    const box = $("chat-error");
    box.hidden = false;
    box.textContent = message;
  },
});

createChat({
  form: $("composer"),
  message: $("message"),
  picker,
  system: $("system"),
  temperature: $("temperature"),
  maxTokens: $("max-tokens"),
  conversation: $("conversation"),
  send: $("send"),
  stop: $("stop"),
  clear: $("clear"),
  copy: $("copy"),
  copyStatus: $("copy-status"),
  errorBox: $("chat-error"),
  attachments,
  modelInfo: (key) => byKey.get(key),
  onAnswered: () => void models.refresh(),
});

$("refresh").addEventListener("click", () => void checkHealth());
await checkHealth();
await models.refresh();
document.body.dataset.ready = "true";
