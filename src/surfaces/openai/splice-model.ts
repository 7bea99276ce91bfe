/** The OpenAI-compatible gateway (/v1): requests forwarded byte for byte, answers streamed back unchanged. */
import type { JsonSkeleton } from "../../http/json-skeleton.ts";

/**
 * The body with its top-level "model" set to `model` (inserted first when it had none), as pieces
 * to send one after another: views of the chunks the body arrived in and the new name. Nothing else
 * moves and nothing is copied, whatever the body's size. The body must be a JSON object already
 * parsed, whose "model", if any, is a string (the route's schema checked both).
 */
export function spliceModel(body: JsonSkeleton, model: string): Buffer[] {
  const name = Buffer.from(JSON.stringify(model));
  const { open, hasMembers, value } = body.model;
  if (value) {
    const [start, end] = value;
    const current = body.slices(start, end);
    if (end - start === name.length && Buffer.concat(current).equals(name))
      return body.slices(0, body.length);
    return [...body.slices(0, start), name, ...body.slices(end, body.length)];
  }
  if (open < 0) throw new TypeError("the body is not a JSON object");
  const member = Buffer.from(`"model":${name}${hasMembers ? "," : ""}`);
  return [...body.slices(0, open), member, ...body.slices(open, body.length)];
}
