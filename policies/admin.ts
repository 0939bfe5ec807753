/** Administrative resources, one file each; re-exported here for older imports. */
export { Users, Groups, Tokens, type AccountSubject } from "./users.ts";
export { Audit } from "./audit.ts";
export { Job, type JobSubject } from "./jobs.ts";
export { ServerStatus } from "./server-status.ts";
