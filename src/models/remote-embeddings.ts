/**
 * Embedding provider for an OpenAI-compatible `/embeddings` server on the company's network
 * (text-embeddings-inference, vLLM, llama.cpp server, Ollama …), behind the same
 * `EmbeddingProvider` contract as the local transformers.js models.
 *
 * - Identity: `modelId` is `<host[:port]>/<model name>` (e.g. `gpu1.corp:8080/intfloat/multilingual-e5-large`),
 *   and the chunk table records it with the dimension exactly as it records a local model's folder
 *   name: a table written by this model is served only while KB_EMBED_URL names the same host and
 *   model (another host, even with the same model name, is another model: re-embed with `kb reembed`).
 * - Dimension: discovered by a probe at load (one passage) and checked on every answer after.
 * - Prefixes: there is no model folder, hence no sidecar; KB_EMBED_QUERY_PREFIX /
 *   KB_EMBED_PASSAGE_PREFIX when set, else the family defaults matched on the model name
 *   (e5: `query: ` / `passage: `, nomic: `search_query: ` / `search_document: `), else none.
 *   Servers that add prompts themselves (TEI's `--default-prompt`) need the variables set to "".
 * - Batching: `batchSize` texts per request, requests of one call in sequence; queries are sent
 *   at once (not behind a call's passage batches). Vectors are L2-normalised here like local ones.
 * - Texts are cut to 32768 characters; the server truncates to its model's length (TEI: --auto-truncate).
 */
import { endpointHost, postModelServer, RemoteModelError, type RemoteEndpoint } from "./remote-http.ts";
import { familyDefaults, type EmbeddingProvider } from "./embeddings.ts";

export interface RemoteEmbeddingOptions extends RemoteEndpoint {
  model: string;
  queryPrefix?: string;
  passagePrefix?: string;
  /** Texts per request (default 32). */
  batchSize?: number;
  /** Per request, ms (default 60000). */
  timeoutMs?: number;
}

export interface RemoteEmbeddingProvider extends EmbeddingProvider {
  readonly host: string;
  readonly info: { host: string; model: string; queryPrefix: string; passagePrefix: string; batchSize: number; settingsSource: string };
}

const CHAR_CAP = 32_768;

/** The identity a remote model is recorded under in the chunk table. */
export function remoteModelId(url: string, model: string): string {
  return `${endpointHost(url)}/${model}`;
}

function l2normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
  for (let i = 0; i < v.length; i++) v[i]! *= inv;
  return v;
}

/** Makes the provider and probes the server once for the dimension (throws when it cannot). */
export async function loadRemoteEmbeddingProvider(opts: RemoteEmbeddingOptions): Promise<RemoteEmbeddingProvider> {
  const host = endpointHost(opts.url);
  const family = familyDefaults(opts.model);
  const queryPrefix = opts.queryPrefix ?? family?.queryPrefix ?? "";
  const passagePrefix = opts.passagePrefix ?? family?.passagePrefix ?? "";
  const settingsSource = opts.queryPrefix !== undefined || opts.passagePrefix !== undefined ? "configuration" : family ? `family:${family.name}` : "default";
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 32));
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const endpoint: RemoteEndpoint = { url: opts.url, apiKey: opts.apiKey, allowedHosts: opts.allowedHosts };
  const modelId = `${host}/${opts.model}`;
  let dimension = 0;
  let closed = false;
  const inFlight = new Set<AbortController>();

  async function request(texts: string[]): Promise<Float32Array[]> {
    if (closed) throw new Error(`embedding provider "${modelId}" is closed`);
    const ctl = new AbortController();
    inFlight.add(ctl);
    const timer = setTimeout(() => ctl.abort(new RemoteModelError(`model server ${host} did not answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref?.();
    try {
      const res = await postModelServer(endpoint, "embeddings", { model: opts.model, input: texts, encoding_format: "float" }, ctl.signal);
      let body: { data?: { embedding?: unknown; index?: number }[] };
      try {
        body = (await res.json()) as typeof body;
      } catch {
        throw new RemoteModelError(`model server ${host} answered /embeddings with something that is not JSON`);
      }
      const data = body.data;
      if (!Array.isArray(data) || data.length !== texts.length) {
        throw new RemoteModelError(`model server ${host} answered ${Array.isArray(data) ? data.length : "no"} embeddings for ${texts.length} texts`);
      }
      const out = new Array<Float32Array>(texts.length);
      data.forEach((d, i) => {
        const at = typeof d.index === "number" ? d.index : i;
        if (!Array.isArray(d.embedding) || at < 0 || at >= texts.length) throw new RemoteModelError(`model server ${host} answered a malformed embedding (use encoding_format float)`);
        const v = Float32Array.from(d.embedding as number[]);
        if (dimension && v.length !== dimension) {
          throw new RemoteModelError(`model server ${host} answered ${v.length}-dimensional vectors for ${opts.model}, which produced ${dimension} before (the table holds ${dimension}); was the model replaced? re-embed with \`kb reembed\``);
        }
        out[at] = l2normalize(v);
      });
      if (out.some((v) => !v)) throw new RemoteModelError(`model server ${host} answered embeddings with duplicate indexes`);
      return out;
    } catch (err) {
      if (ctl.signal.aborted) throw ctl.signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
      inFlight.delete(ctl);
    }
  }

  async function embed(texts: string[], prefix: string): Promise<Float32Array[]> {
    if (!Array.isArray(texts)) throw new TypeError("texts must be an array of strings");
    const prepared = texts.map((t) => {
      const s = prefix + String(t ?? "");
      return s.length > CHAR_CAP ? s.slice(0, CHAR_CAP) : s;
    });
    const out: Float32Array[] = [];
    for (let i = 0; i < prepared.length; i += batchSize) out.push(...(await request(prepared.slice(i, i + batchSize))));
    return out;
  }

  const provider: RemoteEmbeddingProvider = {
    modelId,
    host,
    info: { host, model: opts.model, queryPrefix, passagePrefix, batchSize, settingsSource },
    get dimension() {
      return dimension;
    },
    embedQueries: (texts) => embed(texts, queryPrefix),
    embedPassages: (texts) => embed(texts, passagePrefix),
    async close() {
      closed = true;
      for (const c of inFlight) c.abort(new Error(`embedding provider "${modelId}" is closed`));
    },
  };
  try {
    const [probe] = await provider.embedPassages(["dimension probe / 차원 확인"]);
    if (!probe?.length) throw new RemoteModelError("the server returned an empty embedding");
    dimension = probe.length;
  } catch (err) {
    throw new Error(`Remote embedding model ${opts.model} at ${host} (KB_EMBED_URL) failed its probe: ${(err as Error).message}`);
  }
  return provider;
}
