export * from "./detect.ts";
export * from "./mask.ts";
