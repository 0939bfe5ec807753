import crypto from "node:crypto";

/** Sortable, random ids: `<prefix>_<time base36><random>`. */
export function newId(prefix: string): string {
  const time = Date.now().toString(36).padStart(9, "0");
  const rand = crypto.randomBytes(8).toString("hex");
  return `${prefix}_${time}${rand}`;
}

const GENERATED_ID = /^[a-z]+_[0-9a-z]{9}[0-9a-f]{16}(?::\d+:\d+)?$/;

/** True for an id made by `newId` (or a chunk id `<document id>:<version>:<ordinal>`). */
export function isGeneratedId(value: string): boolean {
  return GENERATED_ID.test(value);
}

export function sha256Hex(data: Uint8Array | string): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}
