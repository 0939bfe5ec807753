import type { Command } from "commander";
import { actorFor, withKb } from "../context.ts";

export function registerQueryCommands(program: Command): void {
  program
    .command("search <query>")
    .description("search the chunks a user may read")
    .option("--as <user>", "search with this user's permissions (default: operator, sees everything)")
    .option("-k, --top-k <n>", "results", "5")
    .option("--json", "print JSON")
    .action(async (query: string, o: { as?: string; topK: string; json?: boolean }) =>
      withKb(async (kb) => {
        const actor = await actorFor(kb, o.as);
        const r = await kb.search.search(actor, query, { topK: Number(o.topK), via: "cli" });
        if (o.json) return void console.log(JSON.stringify(r, null, 2));
        console.log(`mode: ${r.mode}`);
        // Scores only for users who may read every document (`--as` a viewer shows what the viewer sees).
        r.chunks.forEach((c) => console.log(`${c.rank}. ${c.title} (p.${c.pageStart})${c.score !== undefined ? ` score=${c.score.toFixed(3)}` : ""}\n   ${c.text.slice(0, 200).replaceAll("\n", " ")}`));
      }),
    );

  program
    .command("ask <question>")
    .description("ask a question; prints a cited answer (streamed)")
    .option("--as <user>", "ask with this user's permissions (default: operator)")
    .option("-k, --top-k <n>", "sources", "5")
    .option("--json", "print the final JSON")
    .option("-c, --conversation <id>", "continue a conversation (the id is printed after each answer)")
    .action(async (question: string, o: { as?: string; topK: string; json?: boolean; conversation?: string }) =>
      withKb(async (kb) => {
        const actor = await actorFor(kb, o.as);
        // Ctrl-C stops generation instead of leaving the model running.
        const abort = new AbortController();
        const onSigint = () => abort.abort();
        process.once("SIGINT", onSigint);
        try {
          const asked = await kb.ask.ask(actor, question, { topK: Number(o.topK), conversationId: o.conversation, signal: abort.signal, via: "cli" });
          const { retrieval, retrievalQuery } = asked;
          const conversationId = asked.conversationId!;
          for await (const e of asked.events) {
            // Tokens stream as the model writes them (the LLM's raw text; the checked answer follows for --json).
            if (e.type === "delta" && !o.json) process.stdout.write(e.text);
            if (e.type === "done") {
              if (o.json) {
                console.log(
                  JSON.stringify({ mode: e.mode, retrieval, answer: e.answer, found: e.found, citations: e.citations, ...(e.flagged ? { flagged: e.flagged } : {}), conversationId, retrievalQuery }, null, 2),
                );
              } else {
                process.stdout.write("\n\n");
                for (const c of e.citations) console.log(`[${c.n}] ${c.title}, p.${c.page} (${c.source})`);
                if (e.flagged?.length) console.log(`(removed unsupported citations: ${e.flagged.map((f) => `[${f.n}] ${f.reason}`).join("; ")})`);
                if (retrievalQuery !== question.trim()) console.log(`(searched for: ${retrievalQuery})`);
                console.log(`(${e.mode} answer, ${retrieval} retrieval; conversation ${conversationId}: continue with --conversation ${conversationId})`);
              }
            }
          }
        } finally {
          process.off("SIGINT", onSigint);
        }
      }),
    );
}
