// The models panel: downloaded models with state, capabilities and size; Load (with progress, cancellable) and Unload.
import { ApiError, getJson, postJson, postStream } from "./api.js";
import { formatBytes } from "./format.js";
import { describeFailure } from "./plain-errors.js";

/**
 * @typedef {{ model_key: string, type: string, display_name: string, vision: boolean,
 *   trained_for_tool_use: boolean, max_context_length: number, size_bytes: number,
 *   loaded: boolean, loaded_identifiers: string[] }} AvailableModel
 */

/** @param {string} tag @param {string} [className] @param {string} [text] */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** @param {HTMLElement} box @param {{ title: string, detail: string, suggestions: string[] } | null} failure */
export function showFailure(box, failure) {
  box.replaceChildren();
  box.hidden = failure === null;
  if (!failure) return;
  box.append(el("strong", "", failure.title));
  if (failure.detail) box.append(el("span", "detail", failure.detail));
  if (failure.suggestions.length)
    box.append(el("span", "detail", `Did you mean: ${failure.suggestions.join(", ")}?`));
}

/** @param {unknown} error @param {string} [model] */
export function failureOf(error, model) {
  if (error instanceof ApiError) return describeFailure({ status: error.status, body: error.body, model });
  return describeFailure({ status: 0, model });
}

/**
 * @param {{ tbody: HTMLTableSectionElement, errorBox: HTMLElement, exclusive: HTMLInputElement,
 *   refreshButton: HTMLButtonElement, onModels: (models: AvailableModel[]) => void }} els
 */
export function createModelsPanel({ tbody, errorBox, exclusive, refreshButton, onModels }) {
  /** @type {AvailableModel[]} */
  let models = [];
  /** Loads started here: the model key → its progress (0..1) and the way to cancel it. */
  const loading = new Map();
  /** @type {{ key: string, action: string } | null} */
  let focusAfterRender = null;

  const rememberFocus = () => {
    const active = document.activeElement;
    if (active instanceof HTMLButtonElement && tbody.contains(active)) {
      focusAfterRender = { key: active.dataset.key ?? "", action: active.dataset.action ?? "" };
    }
  };

  /** @param {string} key @param {number} progress */
  const progressBar = (key, progress) => {
    const pct = Math.round(progress * 100);
    const wrap = el("div", "progress-wrap");
    const bar = el("div", "progress");
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-label", `Loading ${key}`);
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.setAttribute("aria-valuenow", String(pct));
    bar.setAttribute("aria-valuetext", `${pct}%`);
    const fill = el("div", "fill");
    fill.style.width = `${pct}%`;
    bar.append(fill);
    wrap.append(bar, el("span", "pct", `${pct}%`));
    return wrap;
  };

  /** @param {string} key @param {string} action @param {string} label @param {() => void} onClick */
  const button = (key, action, label, onClick) => {
    const b = el("button", action === "load" ? "small primary" : "small", label);
    b.type = "button";
    b.dataset.key = key;
    b.dataset.action = action;
    b.addEventListener("click", onClick);
    return b;
  };

  /** @param {AvailableModel} m */
  const row = (m) => {
    const tr = el("tr");
    tr.dataset.key = m.model_key;
    const name = el("th");
    name.scope = "row";
    name.append(el("span", "name", m.display_name || m.model_key));
    if (m.display_name && m.display_name !== m.model_key) name.append(el("span", "key", m.model_key));
    const badges = el("span", "badges");
    badges.append(el("span", "badge", m.type === "embedding" ? "Embedding" : "LLM"));
    if (m.vision) badges.append(el("span", "badge vision", "Vision"));
    if (m.trained_for_tool_use) badges.append(el("span", "badge tools", "Tools"));
    name.append(badges);

    const state = el("td", "state");
    const actions = el("td", "actions");
    const load = loading.get(m.model_key);
    if (load) {
      state.append(progressBar(m.model_key, load.progress));
      actions.append(button(m.model_key, "cancel", "Cancel", () => load.controller.abort()));
    } else if (m.loaded) {
      state.append(el("span", "dot on"), el("span", "", "Loaded"));
      actions.append(button(m.model_key, "unload", "Unload", () => unload(m.model_key)));
    } else {
      state.append(el("span", "dot"), el("span", "muted", "Not loaded"));
      actions.append(button(m.model_key, "load", "Load", () => load_(m.model_key)));
    }
    tr.append(name, state, el("td", "num size", formatBytes(m.size_bytes)), actions);
    return tr;
  };

  const render = () => {
    rememberFocus();
    if (models.length === 0) {
      const tr = el("tr");
      const td = el("td", "muted", "No models downloaded in LM Studio (or it could not be reached).");
      td.setAttribute("colspan", "4");
      tr.append(td);
      tbody.replaceChildren(tr);
    } else {
      tbody.replaceChildren(...models.map(row));
    }
    if (focusAfterRender) {
      const { key } = focusAfterRender;
      const target = [...tbody.querySelectorAll("button")].find((b) => b.dataset.key === key);
      target?.focus();
      focusAfterRender = null;
    }
  };

  /** Only the bar of one row changes while a model loads: the rest of the table stays put. */
  const renderProgress = (/** @type {string} */ key, /** @type {number} */ progress) => {
    const tr = [...tbody.rows].find((r) => r.dataset.key === key);
    const bar = tr?.querySelector('[role="progressbar"]');
    if (!bar) return render();
    const pct = Math.round(progress * 100);
    bar.setAttribute("aria-valuenow", String(pct));
    bar.setAttribute("aria-valuetext", `${pct}%`);
    /** @type {HTMLElement} */ (bar.firstElementChild).style.width = `${pct}%`;
    const label = tr?.querySelector(".pct");
    if (label) label.textContent = `${pct}%`;
  };

  const refresh = async () => {
    try {
      const body = await getJson("/models/available");
      models = body.models ?? [];
      if (errorBox.dataset.source === "list") showFailure(errorBox, null);
    } catch (error) {
      models = [];
      showFailure(errorBox, failureOf(error));
      errorBox.dataset.source = "list";
    }
    render();
    onModels(models);
  };

  /** @param {string} key */
  const load_ = async (key) => {
    const controller = new AbortController();
    const entry = { controller, progress: 0 };
    loading.set(key, entry);
    showFailure(errorBox, null);
    render();
    onModels(models);
    try {
      await postStream(
        "/models/load/stream",
        { model_key: key, exclusive: exclusive.checked },
        controller.signal,
        (line) => {
          if (line.type === "progress" && typeof line.progress === "number") {
            entry.progress = Math.max(entry.progress, Math.min(1, line.progress));
            renderProgress(key, entry.progress);
          } else if (line.type === "error") {
            throw new ApiError(200, line);
          }
        },
      );
    } catch (error) {
      if (controller.signal.aborted) {
        showFailure(errorBox, { title: `Loading ${key} was cancelled.`, detail: "", suggestions: [] });
      } else {
        showFailure(errorBox, failureOf(error, key));
      }
      errorBox.dataset.source = "load";
    } finally {
      loading.delete(key);
    }
    await refresh();
  };

  /** @param {string} key */
  const unload = async (key) => {
    showFailure(errorBox, null);
    try {
      await postJson("/models/unload", { model_key: key });
    } catch (error) {
      showFailure(errorBox, failureOf(error, key));
      errorBox.dataset.source = "unload";
    }
    await refresh();
  };

  refreshButton.addEventListener("click", () => refresh());

  return {
    refresh,
    /** @param {string} key */
    isLoading: (key) => loading.has(key),
  };
}
