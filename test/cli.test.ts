/** The `kb` command as a user runs it: real processes, one data folder, a running server beside the CLI. */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeForFolder } from "./helpers/kb.ts";

const run = promisify(execFile);
const KB = path.resolve("bin/kb.js");
let dir: string;
let env: NodeJS.ProcessEnv;
let server: ChildProcess | null = null;
let store: Awaited<ReturnType<typeof storeForFolder>>;

const kb = (...args: string[]) => run(process.execPath, [KB, ...args], { env, timeout: 60_000 });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-cli-"));
  store = await storeForFolder(); // on PostgreSQL (KB_TEST_DATABASE_URL), a database of its own
  env = { ...process.env, KB_DATA_DIR: path.join(dir, "data"), KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "warn", ...store.env };
});
afterAll(async () => {
  server?.kill("SIGTERM");
  await store?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

// Each test runs several `kb` processes, each a few seconds on a busy 2-core machine (more on
// PostgreSQL, where each one connects and checks the migrations): a limit above the default 60 s.
describe("kb CLI", { timeout: 180_000 }, () => {
  it("creates users and groups, and prints only the token on stdout", async () => {
    await kb("groups", "add", "hr");
    await kb("users", "add", "kim", "--role", "viewer", "--groups", "hr,sales");
    const { stdout } = await kb("tokens", "create", "kim");
    expect(stdout).toMatch(/^kb_[A-Za-z0-9_-]{43}\n$/);
    const users = await kb("users", "list");
    expect(users.stdout).toMatch(/kim\tviewer.*groups=hr,sales/);
  });

  it("eval --answers asks a QA set through the answerer and reports held-out questions", async () => {
    const article = (title: string, context: string, question: string, answer: string) => ({
      title,
      paragraphs: [{ context, qas: [{ id: title, question, answers: [{ text: answer, answer_start: context.indexOf(answer) }] }] }],
    });
    const file = path.join(dir, "qa.json");
    fs.writeFileSync(
      file,
      JSON.stringify({
        data: [
          article("연차", "연차 휴가는 입사 1년 후 15일이 주어진다.", "입사 1년 후 연차 휴가는 며칠인가?", "15일"),
          article("재택", "재택근무는 일주일에 이틀까지 허용된다.", "재택근무는 일주일에 며칠까지 허용되나?", "이틀"),
          article("Expenses", "Travel expenses are reimbursed within 30 days.", "How soon are travel expenses reimbursed?", "within 30 days"),
          article("Badges", "Lost security badges are replaced at the front desk.", "Where are lost security badges replaced?", "at the front desk"),
          // The fifth article is held out of the index.
          article("Parking", "The visitor car park closes at 9 pm.", "When does the visitor car park close?", "9 pm"),
        ],
      }),
    );
    const { stdout } = await kb("eval", file, "--answers", "--json");
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ mode: "lexical retrieval, extractive answers", documents: 4, answerable: 4, heldOut: 1, answered: 4, containsAnswer: 4, abstained: 1 });
    const text = await kb("eval", file, "--answers");
    expect(text.stdout).toMatch(/held out: "I don't know" 100\.0%/);
  });

  it("eval reports file-level hits beside passage recall", async () => {
    // One article, two passages; the question is labelled with the second passage but its words
    // are the first's: a miss for the passage, a hit for the file (the article).
    const file = path.join(dir, "files.json");
    fs.writeFileSync(
      file,
      JSON.stringify({
        data: [
          {
            title: "연차 규정",
            paragraphs: [
              { context: "연차 휴가는 입사 1년 후 15일이 주어진다.", qas: [] },
              { context: "휴가 신청서는 인사 시스템에 올린다.", qas: [{ id: "q1", question: "입사 1년 후 연차 휴가는 며칠 주어지나?", answers: [{ text: "휴가", answer_start: 0 }] }] },
            ],
          },
          { title: "주차", paragraphs: [{ context: "방문객 주차장은 오후 9시에 닫는다.", qas: [] }] },
        ],
      }),
    );
    const report = JSON.parse((await kb("eval", file, "--json")).stdout);
    expect(report).toMatchObject({ questions: 1, recall1: 0, files: { questions: 1, recall1: 1 } });
    expect((await kb("eval", file)).stdout).toMatch(/files: +hit@1 1\.0000/);
  });

  it("fails clearly for bad input", async () => {
    await expect(kb("users", "add", "bad name!")).rejects.toMatchObject({ stderr: expect.stringMatching(/invalid user name/) });
    await expect(kb("ingest", path.join(dir, "missing"))).rejects.toMatchObject({ stderr: expect.stringMatching(/no such file/) });
  });

  it("ingests while the server runs on the same data folder, and the server answers at once", async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    server = spawn(process.execPath, [KB, "serve", "--port", String(port)], { env, stdio: ["ignore", "pipe", "pipe"] });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      server!.stdout!.on("data", (d) => {
        out += d;
        if (out.includes("listening")) resolve();
      });
      server!.on("exit", (code) => reject(new Error(`server exited ${code}`)));
    });
    await kb("users", "add", "ops", "--role", "admin");
    const token = (await kb("tokens", "create", "ops")).stdout.trim();
    const docs = path.join(dir, "docs");
    fs.mkdirSync(docs);
    fs.writeFileSync(path.join(docs, "parking.md"), "# 주차 안내\n\n본사 지하 주차장은 직원 1인당 1대까지 무료로 이용할 수 있습니다.");
    const ingest = await kb("ingest", docs, "--allow", "group:hr", "--wait");
    expect(ingest.stdout).toMatch(/succeeded/);
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/search`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ query: "지하 주차장 무료" }),
    });
    const body = (await res.json()) as any;
    expect(body.results[0].title).toBe("주차 안내");
    // The ACL given on the command line holds: kim (hr) sees it, a non-member does not.
    const asKim = await kb("search", "지하 주차장", "--as", "kim", "--json");
    expect(JSON.parse(asKim.stdout).chunks[0].title).toBe("주차 안내");
    await kb("users", "add", "park", "--role", "viewer");
    const asPark = await kb("search", "지하 주차장", "--as", "park", "--json");
    expect(JSON.parse(asPark.stdout).chunks).toEqual([]);
    // Re-ingesting the unchanged folder is a no-op.
    const again = await kb("ingest", docs, "--wait");
    expect(again.stdout).toMatch(/1 unchanged/);
  });

  it("eval measures a reviewed-feedback export in place, on this data folder, as a user", async () => {
    const parking = JSON.parse((await kb("search", "지하 주차장", "--json")).stdout).chunks[0].documentId as string;
    const file = path.join(dir, "feedback.jsonl");
    fs.writeFileSync(file, `${JSON.stringify({ question: "지하 주차장은 무료인가요?", expected_document_ids: [parking], expected_answer: "1인당 1대까지 무료" })}\n`);
    const asKim = JSON.parse((await kb("eval", file, "--as", "kim", "--json")).stdout);
    expect(asKim).toMatchObject({ questions: 1, recall1: 1, ingestSeconds: 0 });
    // park may not read the document: the same set measures 0 for him.
    expect(JSON.parse((await kb("eval", file, "--as", "park", "--json")).stdout)).toMatchObject({ questions: 1, recall10: 0 });
    // Answers in place: the rows' expected answers, asked as each user through the real ask path.
    const answersKim = JSON.parse((await kb("eval", file, "--answers", "--as", "kim", "--json")).stdout);
    expect(answersKim).toMatchObject({ answerable: 1, answered: 1, containsAnswer: 1, firstSentenceContainsAnswer: 1, citesReference: 1, heldOut: 0 });
    const answersPark = JSON.parse((await kb("eval", file, "--answers", "--as", "park", "--json")).stdout);
    expect(answersPark).toMatchObject({ answerable: 1, answered: 0, citesReference: 0 });
    expect((await kb("eval", file, "--answers", "--as", "kim")).stdout).toMatch(/contains the reference 100\.0%/);
  });

  it("eval reports the retrieval settings it ran with, and its flags change them for one run", async () => {
    const file = path.join(dir, "feedback.jsonl");
    const configured = JSON.parse((await kb("eval", file, "--json")).stdout);
    expect(configured).toMatchObject({ settings: { fusion: { k: 60, lexicalWeight: 1, vectorWeight: 1 }, lexicalCandidates: 0, vectorCandidates: 0, rerankCandidates: 30 }, reranker: null });
    const flagged = await kb("eval", file, "--fusion", "k=10,vector=0.5", "--lexical-candidates", "40", "--rerank-candidates", "5");
    expect(flagged.stdout).toContain("fusion rrf k=10 lexical=1 vector=0.5; candidates lexical 40, vector max(3×topK,30); no reranker");
    await expect(kb("eval", file, "--fusion", "k=0")).rejects.toMatchObject({ stderr: expect.stringMatching(/--fusion/) });
  });
});
