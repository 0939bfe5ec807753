/**
 * What the server says about documents beyond their content: relevance scores (documents.ts,
 * `maySeeScores`) and the readiness details with counts of all documents (server-status.ts).
 */
import { describe, expect, it } from "vitest";
import type { Actor } from "./actor.ts";
import { maySeeScores } from "./documents.ts";
import { can } from "./policy.ts";
import { ServerStatus } from "./server-status.ts";

const actor = (role: string, capabilities?: Actor["capabilities"]): Actor => ({ id: role, name: role, role, groups: [], clearance: 1, ...(capabilities ? { capabilities } : {}) });

describe("disclosure rules", () => {
  it("shows relevance scores only to actors who may read every document", () => {
    expect(maySeeScores(actor("admin"))).toBe(true);
    expect(maySeeScores(actor("reader", ["search", "read_all_documents"]))).toBe(true);
    for (const a of [actor("editor"), actor("viewer"), actor("manager", ["search", "manage_all_documents", "view_sensitive"])]) expect(maySeeScores(a)).toBe(false);
  });

  it("shows readiness details only to document managers", () => {
    expect(can(actor("admin"), "read_details", ServerStatus, null)).toBe(true);
    expect(can(actor("manager", ["manage_all_documents"]), "read_details", ServerStatus, null)).toBe(true);
    for (const a of [actor("editor"), actor("viewer"), actor("auditor", ["search", "view_audit"])]) expect(can(a, "read_details", ServerStatus, null)).toBe(false);
  });
});
