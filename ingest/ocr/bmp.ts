/**
 * Minimal BMP decoder (sharp/libvips has no BMP loader): BITMAPINFOHEADER and later headers,
 * 1/4/8-bit palette, 16-bit (5-5-5 or bitfields), 24-bit and 32-bit (BI_RGB or BI_BITFIELDS),
 * bottom-up or top-down. RLE-compressed BMPs are rejected. Output: raw RGB pixels for sharp.
 */
import { IngestError } from "../types.ts";

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
}

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 26 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

/** Width/height from the header without decoding (for pixel-limit checks). */
export function bmpSize(bytes: Uint8Array): { width: number; height: number } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 26) throw new IngestError("corrupt_image", "BMP header is truncated");
  const headerSize = b.readUInt32LE(14);
  if (headerSize === 12) return { width: b.readUInt16LE(18), height: b.readUInt16LE(20) };
  if (b.length < 54) throw new IngestError("corrupt_image", "BMP header is truncated");
  return { width: Math.abs(b.readInt32LE(18)), height: Math.abs(b.readInt32LE(22)) };
}

function maskShift(mask: number): { shift: number; max: number } {
  if (mask === 0) return { shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

export function decodeBmp(bytes: Uint8Array, maxPixels: number): RawImage {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isBmp(b) || b.length < 54) throw new IngestError("corrupt_image", "not a BMP file or header truncated");
  const dataOffset = b.readUInt32LE(10);
  const headerSize = b.readUInt32LE(14);
  if (headerSize < 40) throw new IngestError("unsupported_image", "OS/2 BMP headers are not supported");
  const width = b.readInt32LE(18);
  const rawHeight = b.readInt32LE(22);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  const bpp = b.readUInt16LE(28);
  const compression = b.readUInt32LE(30);
  if (width <= 0 || height <= 0) throw new IngestError("corrupt_image", "BMP has no pixels");
  if (width * height > maxPixels) {
    throw new IngestError("image_too_large", `BMP is ${width}x${height} pixels, over the limit of ${maxPixels}`);
  }
  if (compression !== 0 && compression !== 3 && compression !== 6) {
    throw new IngestError("unsupported_image", `compressed BMP (compression ${compression}) is not supported`);
  }
  let colorsUsed = b.readUInt32LE(46);
  let rMask = 0, gMask = 0, bMask = 0;
  if (compression === 3 || compression === 6) {
    const maskAt = headerSize >= 52 ? 54 : 14 + headerSize;
    rMask = b.readUInt32LE(maskAt);
    gMask = b.readUInt32LE(maskAt + 4);
    bMask = b.readUInt32LE(maskAt + 8);
  } else if (bpp === 16) {
    rMask = 0x7c00; gMask = 0x03e0; bMask = 0x001f;
  } else if (bpp === 32) {
    rMask = 0x00ff0000; gMask = 0x0000ff00; bMask = 0x000000ff;
  }
  const palette: number[][] = [];
  if (bpp <= 8) {
    if (colorsUsed === 0) colorsUsed = 1 << bpp;
    const palAt = 14 + headerSize;
    for (let i = 0; i < colorsUsed && palAt + i * 4 + 2 < b.length; i++) {
      palette.push([b[palAt + i * 4 + 2]!, b[palAt + i * 4 + 1]!, b[palAt + i * 4]!]);
    }
  }
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * height > b.length) throw new IngestError("truncated_file", "BMP pixel data is truncated");
  const out = Buffer.alloc(width * height * 3);
  const r = maskShift(rMask), g = maskShift(gMask), bl = maskShift(bMask);
  const scale = (v: number, m: { shift: number; max: number }) => (m.max ? Math.round((((v >>> m.shift) & m.max) * 255) / m.max) : 0);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      let rgb: [number, number, number];
      if (bpp === 24) {
        const p = row + x * 3;
        rgb = [b[p + 2]!, b[p + 1]!, b[p]!];
      } else if (bpp === 32) {
        const v = b.readUInt32LE(row + x * 4);
        rgb = [scale(v, r), scale(v, g), scale(v, bl)];
      } else if (bpp === 16) {
        const v = b.readUInt16LE(row + x * 2);
        rgb = [scale(v, r), scale(v, g), scale(v, bl)];
      } else if (bpp === 8 || bpp === 4 || bpp === 1) {
        const bit = x * bpp;
        const byte = b[row + (bit >> 3)]!;
        const idx = (byte >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        const c = palette[idx] ?? [0, 0, 0];
        rgb = [c[0]!, c[1]!, c[2]!];
      } else {
        throw new IngestError("unsupported_image", `BMP with ${bpp} bits per pixel is not supported`);
      }
      const o = (y * width + x) * 3;
      out[o] = rgb[0];
      out[o + 1] = rgb[1];
      out[o + 2] = rgb[2];
    }
  }
  return { data: out, width, height, channels: 3 };
}
