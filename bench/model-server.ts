/**
 * An OpenAI-compatible model server in its own process (test/helpers/openai-compatible-server.ts:
 * node-llama-cpp for /v1/chat/completions, optionally transformers.js for /v1/embeddings), for
 * benchmarks of the remote-provider path:
 *   `tsx bench/model-server.ts <model.gguf> [threads] [embedding models dir] [embedding model folder]`.
 * Prints one JSON line `{ baseUrl, host, chatModel, embedModel }` when ready; exits when stdin closes.
 */
import { startModelServer } from "../test/helpers/openai-compatible-server.ts";

const [gguf, threads, embedDir, embedModel] = process.argv.slice(2);
if (!gguf) {
  console.error("usage: tsx bench/model-server.ts <model.gguf> [threads] [embedding models dir] [embedding model folder]");
  process.exit(2);
}
const server = await startModelServer({
  gguf,
  sequences: 1,
  threads: Number(threads ?? 1),
  ...(embedDir && embedModel ? { embed: { modelsDir: embedDir, model: embedModel } } : {}),
});
console.log(JSON.stringify({ baseUrl: server.baseUrl, host: server.host, chatModel: server.chatModel, embedModel: server.embedModel }));
process.stdin.resume();
process.stdin.on("end", () => void server.close().then(() => process.exit(0)));
