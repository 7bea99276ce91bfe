// The chat panel: a conversation streamed token by token, Stop, images to the vision endpoint, usage per answer.
import { ApiError, postStream } from "./api.js";
import { conversationToMarkdown, usageParts } from "./format.js";
import { failureOf, showFailure } from "./models.js";
import { splitThink } from "./think.js";

/** @typedef {import("./images.js").Attachment} Attachment */
/** @typedef {{ role: "user" | "assistant", content: string, images?: Attachment[], model?: string }} Turn */

/** Loaded on the first answer: the first page load stays small. */
let markdown;
const loadMarkdown = () => {
  markdown ??= import("./markdown.js");
  return markdown;
};

/** @param {string} tag @param {string} [className] @param {string} [text] */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * @param {{ form: HTMLFormElement, message: HTMLTextAreaElement, picker: HTMLSelectElement,
 *   system: HTMLTextAreaElement, temperature: HTMLInputElement, maxTokens: HTMLInputElement,
 *   conversation: HTMLElement, send: HTMLButtonElement, stop: HTMLButtonElement,
 *   clear: HTMLButtonElement, copy: HTMLButtonElement, copyStatus: HTMLElement, errorBox: HTMLElement,
 *   attachments: ReturnType<typeof import("./images.js").createAttachments>,
 *   modelInfo: (key: string) => { vision: boolean } | undefined, onAnswered: () => void }} deps
 */
export function createChat(deps) {
  const { form, message, picker, conversation, send, stop, errorBox, attachments } = deps;
  /** @type {Turn[]} */
  let history = [];
  /** @type {AbortController | null} */
  let running = null;

  const setRunning = (/** @type {AbortController | null} */ controller) => {
    running = controller;
    send.disabled = controller !== null;
    stop.disabled = controller === null;
    conversation.setAttribute("aria-busy", String(controller !== null));
  };

  const scrollToEnd = () => {
    conversation.scrollTop = conversation.scrollHeight;
  };

  /** @param {Turn} turn */
  const userBubble = (turn) => {
    conversation.querySelector(".empty")?.remove();
    const article = el("article", "turn user");
    article.append(el("h3", "who", "You"));
    if (turn.content) article.append(el("div", "text", turn.content));
    if (turn.images?.length) {
      const thumbs = el("div", "thumbs inline");
      for (const image of turn.images) {
        const img = /** @type {HTMLImageElement} */ (el("img"));
        img.src = image.dataUrl;
        img.alt = `Sent image: ${image.name}`;
        thumbs.append(img);
      }
      article.append(thumbs);
    }
    conversation.append(article);
    scrollToEnd();
    return article;
  };

  const assistantBubble = (/** @type {string} */ model) => {
    const article = el("article", "turn assistant");
    const who = el("h3", "who", model || "Assistant");
    const reasoning = /** @type {HTMLDetailsElement} */ (el("details", "reasoning"));
    reasoning.hidden = true;
    const summary = el("summary", "", "Reasoning");
    const reasoningText = el("div", "reasoning-text");
    reasoning.append(summary, reasoningText);
    const status = el("div", "status");
    const body = el("div", "markdown");
    const usage = el("p", "usage");
    article.append(who, reasoning, status, body, usage);
    conversation.append(article);
    scrollToEnd();
    return { article, who, reasoning, summary, reasoningText, status, body, usage };
  };

  /** @param {ReturnType<typeof assistantBubble>} view @param {number} progress */
  const showLoad = (view, progress) => {
    const pct = Math.round(progress * 100);
    let bar = view.status.querySelector('[role="progressbar"]');
    if (!bar) {
      view.status.replaceChildren();
      bar = el("div", "progress");
      bar.setAttribute("role", "progressbar");
      bar.setAttribute("aria-label", "Loading the model");
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", "100");
      bar.append(el("div", "fill"));
      view.status.append(el("span", "muted small", "Loading the model…"), bar);
    }
    bar.setAttribute("aria-valuenow", String(pct));
    /** @type {HTMLElement} */ (bar.firstElementChild).style.width = `${pct}%`;
  };

  const readConfig = () => {
    /** @type {Record<string, number>} */
    const config = {};
    const t = deps.temperature.valueAsNumber;
    if (Number.isFinite(t)) config.temperature = Math.min(2, Math.max(0, t));
    const m = deps.maxTokens.valueAsNumber;
    if (Number.isFinite(m) && m >= 1) config.maxTokens = Math.min(1_000_000, Math.round(m));
    return config;
  };

  const submit = async () => {
    if (running) return;
    const text = message.value.trim();
    if (!text && attachments.count === 0) {
      message.focus();
      return;
    }
    showFailure(errorBox, null);
    const images = attachments.take();
    /** @type {Turn} */
    const turn = { role: "user", content: text, ...(images.length > 0 && { images }) };
    history.push(turn);
    message.value = "";
    const userView = userBubble(turn);

    // Images go to the vision endpoint: with the picked model when it can see, else its default VLM.
    const withImages = history.some((t) => t.images?.length);
    const picked = picker.value;
    const canSee = deps.modelInfo(picked)?.vision ?? false;
    const modelKey = withImages && !canSee ? undefined : picked || undefined;
    const path = withImages ? "/chat/vision/stream" : "/chat/stream";
    const system = deps.system.value.trim();
    const body = {
      ...(modelKey && { model_key: modelKey }),
      messages: [
        ...(system ? [{ role: "system", content: system }] : []),
        ...history.map((t) => ({
          role: t.role,
          content: t.content,
          ...(t.images && { images: t.images.map((i) => ({ data_base64: i.dataUrl })) }),
        })),
      ],
      config: readConfig(),
    };

    const view = assistantBubble(modelKey ?? (withImages ? "Default vision model" : "Default model"));
    const md = loadMarkdown();
    let content = "";
    let reasoning = "";
    /** @type {string | undefined} */
    let answeredBy;
    let frame = 0;
    const render = async () => {
      frame = 0;
      const split = splitThink(content);
      const thoughts = [reasoning, split.reasoning].filter(Boolean).join("\n\n");
      if (thoughts) {
        view.reasoning.hidden = false;
        view.summary.textContent = split.thinking || (!split.content && running) ? "Reasoning…" : "Reasoning";
        view.reasoningText.textContent = thoughts;
      }
      const { renderMarkdown } = await md;
      view.body.innerHTML = renderMarkdown(split.content);
      scrollToEnd();
    };
    const schedule = () => {
      frame ||= requestAnimationFrame(() => void render());
    };

    const controller = new AbortController();
    setRunning(controller);
    view.status.append(el("span", "muted small typing", "Waiting for the first token…"));
    try {
      await postStream(path, body, controller.signal, (line) => {
        if (line.type === "progress") {
          showLoad(view, typeof line.progress === "number" ? line.progress : 0);
        } else if (line.type === "fragment" && typeof line.content === "string") {
          if (!content) view.status.replaceChildren();
          content += line.content;
          schedule();
        } else if (line.type === "reasoning" && typeof line.content === "string") {
          reasoning += line.content;
          schedule();
        } else if (line.type === "done") {
          view.status.replaceChildren();
          if (line.model) view.who.textContent = line.model;
          view.usage.textContent = usageParts(line).join(" · ");
          answeredBy = line.model;
        } else if (line.type === "error") {
          throw new ApiError(200, line);
        }
      });
      if (!view.usage.textContent)
        throw new ApiError(200, { detail: "The answer ended before it was complete." });
      history.push({ role: "assistant", content, ...(answeredBy && { model: answeredBy }) });
    } catch (error) {
      view.status.replaceChildren();
      if (controller.signal.aborted) {
        view.usage.textContent = "Stopped.";
        if (content) history.push({ role: "assistant", content });
      } else {
        const failure = failureOf(error, modelKey);
        if (content) {
          history.push({ role: "assistant", content });
          const note = el("div", "alert");
          note.setAttribute("role", "alert");
          view.status.append(note);
          showFailure(note, failure);
        } else {
          // Nothing came back: take the message back so that it can be sent again as it was.
          history.splice(history.indexOf(turn), 1);
          view.article.remove();
          userView.classList.add("failed");
          if (!message.value) message.value = text;
          if (images.length) attachments.restore(images);
          showFailure(errorBox, failure);
        }
      }
    } finally {
      if (frame) cancelAnimationFrame(frame);
      await render();
      setRunning(null);
      deps.onAnswered();
    }
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void submit();
  });
  message.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && running && !document.querySelector("dialog[open]")) running.abort();
  });
  stop.addEventListener("click", () => {
    running?.abort();
    message.focus();
  });

  deps.clear.addEventListener("click", () => {
    running?.abort();
    history = [];
    conversation.replaceChildren(el("p", "empty muted", "The conversation is empty."));
    showFailure(errorBox, null);
    message.focus();
  });

  deps.copy.addEventListener("click", async () => {
    const text = conversationToMarkdown({
      system: deps.system.value,
      turns: history.map((t) => ({ ...t, images: t.images?.length })),
    });
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Without the clipboard API (plain http on another host), a selected textarea and copy.
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    deps.copyStatus.textContent = history.length ? "Conversation copied." : "Nothing to copy yet.";
    setTimeout(() => {
      deps.copyStatus.textContent = "";
    }, 2500);
  });

  return {
    /** @returns {Turn[]} */
    history: () => history,
  };
}
