/**
 * Issue 13 parts 4 and 6 in the browser: an admin creates a search-only, rate-limited token for
 * a service account on the Tokens screen (the secret shown once works for search and is refused
 * for administration), the list shows its scopes and limit; the Users screen marks the service
 * account and shows where each user comes from; the Groups screen shows a directory group by its
 * display name and source, and an admin's addition to it as a manual override. axe checks both.
 */
import { describe, expect, it } from "vitest";
import { signInToAsk, TIMEOUT } from "./app.ts";
import { USERS } from "./fixtures.ts";
import { expectAccessible, skipReason, webTestLifecycle } from "./harness.ts";

describe.skipIf(skipReason())("tokens, service accounts and directory sources in the admin screens", () => {
  const web = webTestLifecycle();

  it("creates a scoped token for a service account and shows scopes, sources and overrides", async () => {
    const server = await web.server();
    await server.kb.accounts.createUser({ name: "crawler", role: "viewer", kind: "service" });
    const hr = (await server.kb.directory.upsertGroup("ldap:corp", { externalId: "5f2c9a10-0000-4000-8000-000000000001", displayName: "인사 팀" })).name;
    const kim = (await server.kb.directory.upsertUser("ldap:corp", { externalId: "0a1b2c3d-0000-4000-8000-00000000000a", displayName: "김철수" })).user.name;
    await server.kb.directory.setGroupMembers("ldap:corp", hr, [{ kind: "user", name: kim }]);
    await server.kb.accounts.addToGroup(hr, "user", "crawler"); // an admin's override

    const { page } = await web.session(server);
    await signInToAsk(page, USERS.admin.name, USERS.admin.password);
    const admin = page.getByRole("navigation", { name: "Administration" });

    await admin.getByRole("link", { name: "Tokens" }).click();
    await page.getByRole("heading", { name: "Tokens", level: 2 }).waitFor({ timeout: TIMEOUT });
    await page.getByRole("button", { name: "New token" }).click();
    const dialog = page.getByRole("dialog", { name: "New token" });
    await dialog.waitFor({ timeout: TIMEOUT });
    const owner = dialog.getByRole("combobox", { name: "User" });
    await owner.fill("crawler");
    await page.getByRole("option", { name: "crawler" }).click();
    await dialog.getByRole("textbox", { name: "Label" }).fill("search bot");
    const scopes = dialog.getByRole("combobox", { name: "Scopes" });
    await scopes.click();
    await page.getByRole("option", { name: "Search" }).click();
    await scopes.press("Escape");
    await dialog.getByRole("textbox", { name: "Requests per minute" }).fill("30");
    await expectAccessible(page, "admin: new token");
    await dialog.getByRole("button", { name: "Create" }).click();
    const secret = (await dialog.getByText(/^kb_/).textContent())!.trim();
    expect(secret).toMatch(/^kb_[A-Za-z0-9_-]{43}$/);
    await dialog.getByRole("button", { name: "Close" }).first().click();
    await dialog.waitFor({ state: "hidden", timeout: TIMEOUT });

    const row = page.getByRole("row").filter({ hasText: "search bot" });
    await row.waitFor({ timeout: TIMEOUT });
    expect((await row.innerText()).replace(/\s+/g, " ")).toMatch(/crawler search bot search 30/i);
    await expectAccessible(page, "admin: tokens with scopes");

    // The secret shown once: search works, administration is refused for the scope.
    const bearer = { authorization: `Bearer ${secret}`, "content-type": "application/json" };
    expect((await fetch(`${server.url}/api/v1/search`, { method: "POST", headers: bearer, body: JSON.stringify({ query: "vacation" }) })).status).toBe(200);
    const refused = await fetch(`${server.url}/api/v1/admin/users`, { headers: bearer });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("scope_denied");

    await admin.getByRole("link", { name: "Users" }).click();
    await page.getByRole("heading", { name: "Users", level: 2 }).waitFor({ timeout: TIMEOUT });
    const crawler = page.getByRole("row").filter({ hasText: "crawler" });
    expect((await crawler.innerText()).replace(/\s+/g, " ")).toMatch(/crawler service account local viewer/i);
    const kimRow = page.getByRole("row").filter({ hasText: "김철수" });
    expect((await kimRow.innerText()).replace(/\s+/g, " ")).toContain(`김철수 ${kim} ldap:corp`);

    await admin.getByRole("link", { name: "Groups" }).click();
    const card = page.getByRole("region", { name: hr });
    await card.waitFor({ timeout: TIMEOUT });
    await card.getByRole("heading", { name: "인사 팀" }).waitFor({ timeout: TIMEOUT });
    const cardText = (await card.innerText()).replace(/\s+/g, " ").toLowerCase(); // badges are upper-cased by CSS
    expect(cardText).toContain("from ldap:corp");
    expect(cardText).toContain("김철수 · ldap:corp");
    expect(cardText).toContain("crawler · manual override");
    // Only the admin's row has a remove button; the directory's membership is changed in the directory.
    expect(await card.getByRole("button", { name: `Remove user:crawler from ${hr}` }).count()).toBe(1);
    expect(await card.getByRole("button", { name: `Remove user:${kim} from ${hr}` }).count()).toBe(0);
    await expectAccessible(page, "admin: groups with directory sources");
  });
});
