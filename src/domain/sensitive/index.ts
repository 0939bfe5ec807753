export * from "./detect.ts";
export * from "./fold.ts";
export * from "./mask.ts";
export * from "./search-keys.ts";
