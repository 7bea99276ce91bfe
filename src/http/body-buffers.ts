import type { ServerResponse } from "node:http";
import type { FastifyRequest } from "fastify";

export interface BodyBuffersOptions {
  /** Buffers held at most; a body that finds them all lent is kept as its chunks, as before. */
  maxBuffers: number;
  /** Free buffers are dropped after this long without a big body, so that a burst's memory goes back. */
  idleMs: number;
}

export interface BodyBufferLoan {
  /** At least the size asked for; bytes past what the borrower writes are another body's. */
  readonly buffer: Buffer;
  /** Gives the buffer back; only once no reader of the body (upstream writes included) remains. */
  readonly giveBack: () => void;
}

/**
 * Reusable memory for request bodies of megabytes (images), lent to one request at a time.
 *
 * Why: a body kept as the chunks Node read it in is a few hundred 64 KiB blocks of memory outside
 * V8's heap, freed only when V8 collects their small JS objects. The collection that V8 starts
 * while such a body arrives (for its external memory) finds the chunks alive and moves them to the
 * old generation; they are then freed only by the next full collection, and a service sent images
 * one after another held two or three bodies at its peak, by chance (bench, image scenario). A body
 * copied into a lent buffer leaves each chunk garbage as soon as it is copied, and the next body
 * reuses the same buffer: the peak is one body, every time.
 */
export class BodyBuffers {
  readonly #free: Buffer[] = [];
  #lent = 0;
  #idle: NodeJS.Timeout | undefined;
  readonly #opts: BodyBuffersOptions;

  constructor(opts: BodyBuffersOptions) {
    this.#opts = opts;
  }

  /** Buffers lent now, and free ones held. */
  get counts(): { lent: number; free: number } {
    return { lent: this.#lent, free: this.#free.length };
  }

  /** A buffer of at least `size` bytes, or undefined when every buffer is lent. */
  borrow(size: number): BodyBufferLoan | undefined {
    let buffer: Buffer | undefined;
    const fits = this.#free.findIndex((b) => b.length >= size);
    if (fits >= 0) {
      buffer = this.#free.splice(fits, 1)[0];
    } else if (this.#free.length + this.#lent < this.#opts.maxBuffers || this.#free.length > 0) {
      // A free buffer too small for this body is replaced, not kept beside a bigger one.
      this.#free.pop();
      buffer = Buffer.allocUnsafeSlow(size);
    }
    if (buffer === undefined) return undefined;
    clearTimeout(this.#idle);
    this.#lent++;
    const lent = buffer;
    let given = false;
    return {
      buffer: lent,
      giveBack: () => {
        if (given) return;
        given = true;
        this.#lent--;
        this.#free.push(lent);
        if (this.#lent === 0) {
          this.#idle = setTimeout(() => this.#free.splice(0), this.#opts.idleMs);
          this.#idle.unref();
        }
      },
    };
  }
}

/** A request's way to borrow a body buffer, set by the plugin that knows when its response ends. */
const lenders = new WeakMap<object, (size: number) => Buffer | undefined>();

/**
 * Lets `request` borrow one buffer from `buffers` for its body, given back when `response` closes
 * (answered or abandoned): the handler and its upstream requests have let go of the body by then (a
 * client gone aborts them first, in the same event). The body's reader borrows before reading, and
 * reads nothing once the client is gone (see read-json-body.ts), so a response is never closed then.
 */
export function offerBodyBuffer(
  request: FastifyRequest,
  response: ServerResponse,
  buffers: BodyBuffers,
): void {
  lenders.set(request.raw, (size) => {
    lenders.delete(request.raw);
    const loan = buffers.borrow(size);
    if (loan === undefined) return undefined;
    response.once("close", loan.giveBack);
    return loan.buffer;
  });
}

/** A buffer of at least `size` bytes for this request's body, when one was offered and is free. */
export function borrowBodyBuffer(request: FastifyRequest, size: number): Buffer | undefined {
  return lenders.get(request.raw)?.(size);
}
