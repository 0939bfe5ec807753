/**
 * The system page (Admin → System) in the browser: an admin sees the modes (lexical retrieval,
 * extractive answers on the template), the models (none: embedding, reranker, image descriptions, LLM), the active index with the counts of
 * all documents and chunks as the server holds them, and the job queue: the worker, the counts
 * per status and a running job with its progress. A viewer gets neither the menu entry nor the
 * page, and the API answers 403. The page in Korean, its reduced-mode notes too. axe checks it in both languages.
 */
import { describe, expect, it } from "vitest";
import { signInToAsk, TIMEOUT } from "./app.ts";
import { USERS } from "./fixtures.ts";
import { expectAccessible, skipReason, webTestLifecycle, sql } from "./harness.ts";

describe.skipIf(skipReason())("system page", () => {
  const web = webTestLifecycle();

  it("shows an admin the modes, models, index and job queue; a viewer neither sees nor opens it", async () => {
    const server = await web.server();
    // A reindex job held by another (live) worker, 4 of 10 done: what the queue shows while one runs.
    await sql(
      server,
      "INSERT INTO jobs (id, kind, status, created_by, params, total, done, worker_id, heartbeat_at, phase, created_at, started_at) VALUES (?, 'reindex', 'running', 'admin', '{}', 10, 4, 'another-worker', ?, 'copying', ?, ?)",
      "job_system_page",
      "2999-01-01T00:00:00.000Z",
      new Date().toISOString(),
      new Date().toISOString(),
    );
    const count = async (text: string) => Number((await sql(server, text))[0]!.n);
    const documents = await count("SELECT count(*) AS n FROM documents");
    const queued = await count("SELECT count(*) AS n FROM jobs WHERE status = 'queued'");
    const running = await count("SELECT count(*) AS n FROM jobs WHERE status = 'running'");
    expect(documents).toBeGreaterThan(5);
    const chunks = await server.kb.chunks.count();

    const admin = await web.session(server);
    const { page } = admin;
    await signInToAsk(page, USERS.admin.name, USERS.admin.password);
    await page.getByRole("navigation", { name: "Administration" }).getByRole("link", { name: "System" }).click();
    await page.getByRole("heading", { name: "System", level: 2 }).waitFor({ timeout: TIMEOUT });
    expect(new URL(page.url()).pathname).toBe("/admin/system");

    /** The value in a panel's row (the row header names it). */
    const value = async (panel: string, row: string) => {
      const r = page.getByRole("region", { name: panel }).getByRole("row", { name: new RegExp(`^${row}`) });
      await r.waitFor({ timeout: TIMEOUT });
      return ((await r.getByRole("cell").textContent()) ?? "").trim();
    };
    expect(await value("Modes", "Retrieval")).toBe("Lexical (BM25 keywords)");
    expect(await value("Modes", "Answers")).toBe("Extractive (quoted source sentences)");
    expect(await value("Models", "Embedding model")).toBe("None");
    expect(await value("Models", "Language model")).toBe("None");
    expect(await value("Models", "Reranker")).toBe("None");
    expect(await value("Models", "Image descriptions")).toBe("None");
    expect(await value("Index", "Documents \\(all\\)")).toBe(documents.toLocaleString("en"));
    expect(await value("Index", "Chunks")).toBe(chunks.toLocaleString("en"));
    expect(chunks).toBeGreaterThan(documents); // several chunks per document: not the document count twice
    expect(await value("Index", "Active chunk table")).toMatch(/\S/);
    expect(await value("Job queue", "Worker")).toBe("Running"); // the test server runs a worker
    expect(await value("Job queue", "Queued")).toBe(String(queued));
    expect(await value("Job queue", "Running")).toBe(String(running));
    expect(running).toBeGreaterThanOrEqual(1);
    // The running job, with its phase and progress.
    const jobs = page.getByRole("table", { name: "Running and queued jobs" });
    const row = jobs.getByRole("row").filter({ hasText: "reindex" });
    await row.waitFor({ timeout: TIMEOUT });
    expect((await row.innerText()).replace(/\s+/g, " ")).toMatch(/reindex Running \(copying\) 4 \/ 10/);
    expect(await row.getByRole("progressbar", { name: "Progress of the reindex job: 4 of 10" }).getAttribute("aria-valuenow")).toBe("40");
    // A reduced mode is explained (no embedding model: lexical only; no LLM: extractive).
    await page.getByText("no embedding model loaded: lexical (BM25) retrieval only").waitFor({ timeout: TIMEOUT });
    await expectAccessible(page, "admin system page");

    // In Korean (a Korean browser).
    const korean = await web.session(server, { locale: "ko-KR" });
    await korean.page.goto("/signin");
    await korean.page.getByRole("textbox", { name: "사용자 이름" }).fill(USERS.admin.name);
    await korean.page.getByRole("textbox", { name: "비밀번호", exact: true }).fill(USERS.admin.password);
    await korean.page.getByRole("button", { name: "로그인", exact: true }).click();
    await korean.page.getByRole("heading", { name: "질문하기", level: 2 }).waitFor({ timeout: TIMEOUT });
    await korean.page.getByRole("navigation", { name: "관리" }).getByRole("link", { name: "시스템" }).click();
    await korean.page.getByRole("heading", { name: "시스템", level: 2 }).waitFor({ timeout: TIMEOUT });
    await korean.page.getByRole("region", { name: "동작 방식" }).getByRole("row", { name: /^검색/ }).getByText("어휘 검색 (BM25 키워드)").waitFor({ timeout: TIMEOUT });
    await korean.page.getByRole("region", { name: "작업 대기열" }).getByText("실행 중", { exact: true }).first().waitFor({ timeout: TIMEOUT });
    // The reduced-mode notes in Korean too (the server sends a code with each English note).
    await korean.page.getByText("임베딩 모델이 없어 어휘 검색(BM25)만 사용합니다", { exact: true }).waitFor({ timeout: TIMEOUT });
    await korean.page.getByText("LLM이 설정되지 않아 답변은 발췌형(출처 문장 인용)입니다", { exact: true }).waitFor({ timeout: TIMEOUT });
    expect(await korean.page.getByText("no embedding model loaded").count()).toBe(0);
    await expectAccessible(korean.page, "admin system page (Korean)");

    // A viewer: no menu entry, the address shows the refusal, the API answers 403.
    const viewer = await web.session(server);
    await signInToAsk(viewer.page, USERS.minji.name, USERS.minji.password);
    expect(await viewer.page.getByRole("link", { name: "System" }).count()).toBe(0);
    await viewer.page.goto("/admin/system");
    await viewer.page.getByText("You are not allowed to see this.").waitFor({ timeout: TIMEOUT });
    expect(await viewer.page.getByRole("heading", { name: "System", level: 2 }).count()).toBe(0);
    expect(await viewer.page.getByText("Active chunk table").count()).toBe(0);
    const status = await viewer.page.evaluate(async () => (await fetch("/api/v1/admin/status", { credentials: "same-origin" })).status);
    expect(status).toBe(403);
  });
});
