import sharp from "sharp";

/** A white PNG with `lines` of black text in DejaVu Sans (32 px): a screenshot-like image for OCR. */
export async function textPng(lines: string[]): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="${lines.length * 52 + 80}">
    <rect width="100%" height="100%" fill="white"/>
    ${lines.map((l, i) => `<text x="40" y="${60 + i * 52}" font-family="DejaVu Sans" font-size="32" fill="black">${l}</text>`).join("\n")}
  </svg>`;
  return sharp(Buffer.from(svg)).flatten({ background: "#ffffff" }).png().toBuffer();
}
