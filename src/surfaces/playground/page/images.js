// Images to send: from the file picker, drag and drop, or paste; kept as data URLs with a thumbnail.

const TYPES = ["image/png", "image/jpeg", "image/webp"];

/** @typedef {{ name: string, dataUrl: string }} Attachment */

/** @param {File} file @returns {Promise<string>} */
const readAsDataUrl = (file) =>
  new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });

/**
 * @param {{ list: HTMLUListElement, input: HTMLInputElement, dropZone: HTMLElement,
 *   pasteTarget: HTMLElement, onError: (message: string) => void }} els
 */
export function createAttachments({ list, input, dropZone, pasteTarget, onError }) {
  /** @type {Attachment[]} */
  let items = [];

  const render = () => {
    list.replaceChildren(
      ...items.map((item, i) => {
        const li = document.createElement("li");
        const img = document.createElement("img");
        img.src = item.dataUrl;
        img.alt = `Image to send: ${item.name}`;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "remove";
        remove.textContent = "×";
        remove.setAttribute("aria-label", `Remove ${item.name}`);
        remove.addEventListener("click", () => {
          items.splice(i, 1);
          render();
          pasteTarget.focus();
        });
        li.append(img, remove);
        return li;
      }),
    );
    list.hidden = items.length === 0;
  };

  /** @param {Iterable<File>} files */
  const add = async (files) => {
    for (const file of files) {
      if (!TYPES.includes(file.type)) {
        onError(`“${file.name || "This file"}” is not a PNG, JPEG or WebP image.`);
        continue;
      }
      try {
        items.push({ name: file.name || "pasted image", dataUrl: await readAsDataUrl(file) });
      } catch {
        onError(`Could not read “${file.name}”.`);
      }
    }
    render();
  };

  input.addEventListener("change", async () => {
    await add(input.files ?? []);
    input.value = "";
  });

  let depth = 0;
  const hasFiles = (/** @type {DragEvent} */ e) => e.dataTransfer?.types.includes("Files") ?? false;
  dropZone.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth++;
    dropZone.classList.add("dropping");
  });
  dropZone.addEventListener("dragover", (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  dropZone.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) dropZone.classList.remove("dropping");
  });
  dropZone.addEventListener("drop", (e) => {
    depth = 0;
    dropZone.classList.remove("dropping");
    if (!e.dataTransfer?.files.length) return;
    e.preventDefault();
    add(e.dataTransfer.files);
  });

  pasteTarget.addEventListener("paste", (e) => {
    const files = [...(e.clipboardData?.files ?? [])];
    if (files.length === 0) return;
    e.preventDefault();
    add(files);
  });

  return {
    /** @returns {Attachment[]} what was attached, now cleared */
    take() {
      const taken = items;
      items = [];
      render();
      return taken;
    },
    /** @param {Attachment[]} restored */
    restore(restored) {
      items = [...restored, ...items];
      render();
    },
    get count() {
      return items.length;
    },
  };
}
