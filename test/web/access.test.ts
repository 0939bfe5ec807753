/**
 * Who sees what, in the browser. An admin grants a document to a viewer on the Document access
 * screen (bulk by folder, dry run first) while the viewer is signed in in another browser
 * context; the viewer's next search finds it. A viewer never sees an admin screen (not in the
 * navigation, not by typing its address) nor a document they may not read: not in the documents
 * list or its count, not in search, not in an answer, not by its address; a member of the
 * group it is for does see it (so the hiding is the access rule's doing).
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { askQuestion, search, signInToAsk, TIMEOUT } from "./app.ts";
import { REPO_ROOT } from "./env.ts";
import { DOCS, USERS } from "./fixtures.ts";
import { documentId, expectAccessible, skipReason, webTestLifecycle } from "./harness.ts";

describe.skipIf(skipReason())("access in the browser", () => {
  const web = webTestLifecycle();

  it("an admin's access change reaches a viewer's next search (two browser contexts)", async () => {
    const server = await web.server();
    const viewer = (await web.session(server)).page;
    const admin = (await web.session(server)).page;
    await signInToAsk(viewer, USERS.minji.name, USERS.minji.password);
    await signInToAsk(admin, USERS.admin.name, USERS.admin.password);

    expect(await search(viewer, "Aurora cutover")).not.toContain(DOCS.aurora.title);
    await expectAccessible(viewer, "search (results)");

    await admin.getByRole("navigation", { name: "Administration" }).getByRole("link", { name: "Document access" }).click();
    await admin.getByRole("heading", { name: "Document access", level: 2 }).waitFor({ timeout: TIMEOUT });
    await expectAccessible(admin, "admin: document access");
    const bulk = admin.getByRole("region", { name: "Many documents" });
    await bulk.getByRole("textbox", { name: "Source folder (prefix)" }).fill("projects/");
    const addAllow = bulk.getByRole("combobox", { name: "Add to allow" });
    await addAllow.fill("user:minji");
    await addAllow.press("Enter");
    await addAllow.press("Escape"); // closes the suggestions
    await bulk.getByRole("button", { name: "Dry run (count)" }).click();
    await bulk.getByRole("status").filter({ hasText: "1 documents match; 1 would change, 0 skipped." }).waitFor({ timeout: TIMEOUT });
    expect(await search(viewer, "Aurora cutover")).not.toContain(DOCS.aurora.title); // a dry run changes nothing
    await bulk.getByRole("button", { name: "Apply" }).click();
    await bulk.getByRole("status").filter({ hasText: "1 documents matched; 1 changed, 0 skipped." }).waitFor({ timeout: TIMEOUT });

    expect(await search(viewer, "Aurora cutover")).toContain(DOCS.aurora.title);
  });

  it("a viewer sees no admin screen and no document they may not read, wherever they look", async () => {
    const server = await web.server();
    const viewer = (await web.session(server)).page;
    await signInToAsk(viewer, USERS.minji.name, USERS.minji.password);

    // No admin navigation; admin addresses typed in show nothing of the admin screens.
    expect(await viewer.getByRole("navigation", { name: "Administration" }).count()).toBe(0);
    expect(await viewer.getByRole("link", { name: /Users|Groups|Tokens|Document access|Jobs|Audit|Feedback|System/ }).count()).toBe(0);
    for (const screen of ["users", "groups", "tokens", "access", "jobs", "audit", "feedback", "system"]) {
      await viewer.goto(`/admin/${screen}`);
      await viewer.getByText("You are not allowed to see this.").waitFor({ timeout: TIMEOUT });
      expect(await viewer.getByRole("heading", { level: 2 }).count(), `/admin/${screen}`).toBe(0);
    }
    await expectAccessible(viewer, "admin address as a viewer");

    // The documents list and its count: the demo corpus and the documents for everyone, nothing else.
    const demo = fs.readdirSync(path.join(REPO_ROOT, "data", "demo")).filter((f) => !f.startsWith(".")).length;
    const forEveryone = Object.values(DOCS).filter((d) => (d.allow as readonly string[]).includes("group:everyone")).length;
    await viewer.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Documents" }).click();
    await viewer.getByText(`${demo + forEveryone} documents you may read`).waitFor({ timeout: TIMEOUT });
    expect(await viewer.getByText(DOCS.payroll.title).count()).toBe(0);
    expect(await viewer.getByText(DOCS.aurora.title).count()).toBe(0);
    await expectAccessible(viewer, "documents");

    expect(await search(viewer, DOCS.payroll.phrase)).not.toContain(DOCS.payroll.title);
    await viewer.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Ask" }).click();
    await askQuestion(viewer, "급여 이체일은 매월 며칠인가요?");
    await viewer.locator('[aria-live="polite"]').getByText("I don't know").waitFor({ timeout: TIMEOUT });
    expect(await viewer.getByRole("link", { name: new RegExp(DOCS.payroll.title) }).count()).toBe(0);

    await viewer.goto(`/documents/${await documentId(server, DOCS.payroll.source)}?page=1`);
    await viewer.getByText("This document does not exist or you may not read it.").waitFor({ timeout: TIMEOUT });
    expect(await viewer.getByText(DOCS.payroll.phrase).count()).toBe(0);

    // The control: a member of hr finds it in the same places.
    const hr = (await web.session(server)).page;
    await signInToAsk(hr, USERS.hana.name, USERS.hana.password);
    expect(await search(hr, DOCS.payroll.phrase)).toContain(DOCS.payroll.title);
    await hr.goto(`/documents/${await documentId(server, DOCS.payroll.source)}?page=1`);
    await hr.getByRole("heading", { name: DOCS.payroll.title, level: 2 }).waitFor({ timeout: TIMEOUT });
  });
});
