/**
 * Near-duplicate documents on the Search screen (issue 16 item 6): the same memo saved three times
 * shows as one result with "2 copies" linking to the others, for a viewer who may read all three.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ingestNow, writeFiles } from "../helpers/kb.ts";
import { search, signInToAsk, TIMEOUT } from "./app.ts";
import { USERS } from "./fixtures.ts";
import { skipReason, webTestLifecycle } from "./harness.ts";

const MEMO =
  "The lighthouse ferry timetable changes on the first of June. Morning crossings leave at seven and nine, the evening crossing at six, and the winter service resumes in October with two crossings a day. Tickets bought before June stay valid for any crossing.";

describe.skipIf(skipReason())("copies on the Search screen", () => {
  const web = webTestLifecycle();

  it("shows three copies of one memo as one result listing the two others", async () => {
    const server = await web.server();
    const files = writeFiles(path.join(server.dir, "incoming"), {
      "ferry-timetable.md": `# Ferry timetable\n\n${MEMO}\n`,
      "ferry-timetable_v2.md": `# Ferry timetable\n\n${MEMO.replace("seven and nine", "seven and ten")}\n`,
      "ferry-timetable-export.txt": `Ferry timetable\n${MEMO}\nPage 1\n`,
    });
    const { job } = await ingestNow(server.kb, files.map((f) => ({ source: `notes/${path.basename(f)}`, path: f, allow: ["group:everyone"] })));
    expect(job.status).toBe("succeeded");

    const page = (await web.session(server)).page;
    await signInToAsk(page, USERS.minji.name, USERS.minji.password);
    await search(page, "lighthouse ferry crossings");
    const results = page.getByRole("list", { name: "Results" }).getByRole("listitem");
    const ferry = results.filter({ hasText: "lighthouse ferry" });
    expect(await ferry.count()).toBe(1);
    await ferry.getByText("2 copies:").waitFor({ timeout: TIMEOUT });
    expect(await ferry.getByRole("link").count()).toBe(3); // the result and its two copies
  });
});
