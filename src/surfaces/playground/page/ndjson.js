// @ts-check
// NDJSON reading: lines may arrive split across chunks, several in one chunk, or end without "\n".

/** Collects text chunks and hands back the complete, non-empty lines. */
export function createLineSplitter() {
  let rest = "";
  return {
    /** @param {string} chunk */
    push(chunk) {
      rest += chunk;
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      return lines.filter((l) => l.trim() !== "");
    },
    end() {
      const last = rest.trim();
      rest = "";
      return last ? [last] : [];
    },
  };
}

/**
 * Reads a response body to its end, calling onLine with each parsed JSON line as soon as it is
 * complete. A line that is not JSON is skipped rather than ending the stream.
 * @param {ReadableStream<any>} body
 * @param {(line: any) => void} onLine
 */
export async function readNdjson(body, onLine) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const splitter = createLineSplitter();
  const emit = (/** @type {string[]} */ lines) => {
    for (const line of lines) {
      let parsed;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      onLine(parsed);
    }
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    emit(splitter.push(value));
  }
  emit(splitter.end());
}
