// Entry of an extraction thread: worker threads do not inherit the main thread's TypeScript
// loader, so register tsx here, then load the TypeScript entry named by the pool.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
