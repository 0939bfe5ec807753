// Entry of an extraction child process (extract-processes.ts): register tsx's loader, then load
// the TypeScript entry named on the command line. Node options (heap limit) come from the parent.
import { register } from "tsx/esm/api";

register();
await import(process.argv[2]);
