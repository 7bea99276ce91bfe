/**
 * A real, valid PNG of about 10 MiB: an RGB image of random pixels (incompressible, like a photo),
 * its IDAT stored with deflate level 0. Any PNG decoder reads it; the service's magic-number check
 * sees the PNG signature.
 */
import { randomFillSync } from "node:crypto";
import { crc32, deflateSync } from "node:zlib";

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** A square RGB PNG whose file size is close to `targetBytes`. */
export function makePng(targetBytes: number): Buffer {
  // raw = side * (1 filter byte + 3 * side); deflate level 0 adds ~5 bytes per 64 KiB block.
  const side = Math.floor((-1 + Math.sqrt(1 + 12 * targetBytes * 0.9999)) / 6);
  const raw = Buffer.alloc(side * (1 + 3 * side));
  randomFillSync(raw);
  for (let y = 0; y < side; y++) raw[y * (1 + 3 * side)] = 0; // filter type "None" on every row
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour (RGB)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 0 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
