/** Records what happened, by whom, for the append-only audit log. */
import type { Actor } from "../../policies/index.ts";
import type { AuditRepo } from "../stores/sqlite/audit-repo.ts";

export class AuditLog {
  constructor(private readonly repo: AuditRepo) {}

  record(actor: Actor | string | null, action: string, target: string | null, details?: Record<string, unknown>, outcome: "ok" | "denied" | "error" = "ok"): void {
    const who = actor === null ? null : typeof actor === "string" ? actor : `user:${actor.name}`;
    this.repo.append({ actor: who, action, target, details: details ?? null, outcome });
  }

  get repository(): AuditRepo {
    return this.repo;
  }
}
