/**
 * Upper bounds on free text that users and documents bring in. Text is copied a lot (a title
 * goes into every chunk row of its document and into every search result citing it; a question
 * into the audit log, the conversation and the prompt), so an unbounded field multiplies: a
 * 1 MB title on a 100-chunk document made one search answer 54 MB. Lengths are in UTF-16 code
 * units (JavaScript string length, what zod's max and OpenAPI's maxLength count).
 */
export const TEXT_LIMITS = {
  /** A document title, given or extracted. */
  title: 512,
  /** A search query, a question, a chat message from the user. */
  query: 4096,
  /** A free-text comment or description. */
  comment: 4096,
  /** A document source (file path or upload name), a folder or a source prefix. */
  path: 1024,
  /** One message of a conversation replayed by a client (an earlier answer). */
  message: 16_384,
  /** Tags on one document. */
  tags: 64,
  /** The password of an encrypted PDF, given with an upload (PDF's own limit is 127 bytes). */
  pdfPassword: 256,
} as const;

/**
 * A title from a document's own metadata (PDF info, HTML <title>, the first heading…), cut to
 * the title limit. Unlike a title a user types, it is not refused: the document is still worth
 * indexing.
 */
export function clampTitle(title: string): string {
  if (title.length <= TEXT_LIMITS.title) return title;
  let cut = title.slice(0, TEXT_LIMITS.title - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1); // never split a surrogate pair
  return `${cut.trimEnd()}…`;
}

/**
 * An image attached to a question (a screenshot of an error, a photo of a form): read by OCR in
 * memory, never stored. Its text joins the question, so the question's limit still bounds what
 * is kept; `text` bounds the image's share of it.
 */
export const ASK_IMAGE_LIMITS = {
  /** Decoded bytes of the image (a phone photo as JPEG, a full-HD screenshot as PNG fit). */
  bytes: 4 * 1024 * 1024,
  /** Width × height (48 MP phone photos are refused: OCR cost grows with pixels). */
  pixels: 40_000_000,
  /** Characters of the image's OCR text kept with the question. */
  text: 2048,
} as const;
