// core/chat: chats, from admission and per-model slots through on-demand loading to the upstream.
import type { LoadedModel } from "../../upstreams/types.ts";

/**
 * Running chats per model name, so that an exclusive load can refuse to unload a model that is
 * answering someone. Chats write it, the model gate reads it: neither needs the other.
 */
export class ActiveChats {
  readonly #count = new Map<string, number>();

  add(model: string): void {
    this.#count.set(model, (this.#count.get(model) ?? 0) + 1);
  }

  remove(model: string): void {
    const n = (this.#count.get(model) ?? 0) - 1;
    if (n > 0) this.#count.set(model, n);
    else this.#count.delete(model);
  }

  isBusy = (model: LoadedModel): boolean =>
    (this.#count.get(model.identifier) ?? 0) > 0 || (this.#count.get(model.modelKey) ?? 0) > 0;
}
