// The model's text is untrusted: Markdown through marked, raw HTML shown as text, then DOMPurify.
import { Marked } from "./vendor/marked.esm.js";
import DOMPurify from "./vendor/purify.es.mjs";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
/** @param {string} s */
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ESCAPES[/** @type {keyof ESCAPES} */ (c)]);

const marked = new Marked({ gfm: true, async: false });
marked.use({
  renderer: {
    // HTML the model writes is shown, not run: `<img src=x onerror=…>` reads as text.
    html: ({ text }) => escapeHtml(text),
    // Images would be fetched from wherever the model says: show a link instead.
    image: ({ href, text }) => `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`,
  },
});

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

const PURIFY = {
  USE_PROFILE: { html: true },
  FORBID_TAGS: ["style", "img", "svg", "math", "form", "input", "button", "textarea", "select", "iframe"],
  FORBID_ATTR: ["style", "class", "id"],
};

/** @param {string} text @returns {string} sanitised HTML */
export function renderMarkdown(text) {
  return DOMPurify.sanitize(/** @type {string} */ (marked.parse(text)), PURIFY);
}
