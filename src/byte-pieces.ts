/**
 * A byte sequence held as pieces (a request body as it arrived, a body to send): lengths, single
 * bytes and ranges without joining the pieces, which may be megabytes.
 */

/** The total length of the pieces. */
export const piecesLength = (pieces: readonly Buffer[]): number =>
  pieces.reduce((n, piece) => n + piece.length, 0);

/** Bytes [start, end) of the pieces, as views of them (nothing copied). */
export function slicePieces(
  pieces: readonly Buffer[],
  start: number,
  end = Number.POSITIVE_INFINITY,
): Buffer[] {
  const out: Buffer[] = [];
  let base = 0;
  for (const piece of pieces) {
    const next = base + piece.length;
    if (next > start && base < end) {
      out.push(piece.subarray(Math.max(0, start - base), Math.min(piece.length, end - base)));
    }
    if (next >= end) break;
    base = next;
  }
  return out;
}

/** The byte at offset i, if there is one. */
export function byteAt(pieces: readonly Buffer[], i: number): number | undefined {
  for (const piece of pieces) {
    if (i < piece.length) return piece[i];
    i -= piece.length;
  }
  return undefined;
}
