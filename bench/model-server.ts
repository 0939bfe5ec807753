/**
 * An OpenAI-compatible model server in its own process (test/helpers/openai-compatible-server.ts:
 * node-llama-cpp for /v1/chat/completions, optionally transformers.js for /v1/embeddings), for
 * benchmarks of the remote-provider path: `tsx bench/model-server.ts <model.gguf> [threads]`.
 * Prints one JSON line `{ baseUrl, host, chatModel }` when ready; exits when stdin closes.
 */
import { startModelServer } from "../test/helpers/openai-compatible-server.ts";

const gguf = process.argv[2];
if (!gguf) {
  console.error("usage: tsx bench/model-server.ts <model.gguf> [threads]");
  process.exit(2);
}
const server = await startModelServer({ gguf, sequences: 1, threads: Number(process.argv[3] ?? 1) });
console.log(JSON.stringify({ baseUrl: server.baseUrl, host: server.host, chatModel: server.chatModel }));
process.stdin.resume();
process.stdin.on("end", () => void server.close().then(() => process.exit(0)));
