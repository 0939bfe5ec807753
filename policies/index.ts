/** Policies: the single source of truth for who may do what and who may read which document. */
export * from "./actor.ts";
export * from "./classification.ts";
export * from "./default-acl.ts";
export * from "./documents.ts";
export * from "./policy.ts";
export * from "./principal-format.ts";
export * from "./roles.ts";
export * from "./rule.ts";
export * from "./users.ts";
export * from "./audit.ts";
export * from "./jobs.ts";
export * from "./sensitive.ts";
export * from "./policies.ts";
export * from "./document-rules.ts";
export * from "./config-files.ts";
export * from "./explain.ts";
export * from "./glob.ts";
