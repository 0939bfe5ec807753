/**
 * `kb policy` (validate, show, explain), `kb acl` (set, bulk), `kb audit`, `kb sensitive`.
 * All run as the operator through the same services as the admin API, so they are authorized
 * and audited the same way.
 */
import path from "node:path";
import type { Command } from "commander";
import { classificationLabel, classificationLevel, parsePrincipalList, SYSTEM_ACTOR } from "../../../policies/index.ts";
import { loadConfig } from "../../config.ts";
import { type AclChange, type DocumentCandidate, type DocumentSelector } from "../../services/access.ts";
import { ServiceError } from "../../services/errors.ts";
import { auditJsonLine } from "../../services/audit.ts";
import type { Kb } from "../../services/container.ts";
import { PolicyFiles } from "../../services/policy-files.ts";
import type { SensitiveKind } from "../../domain/sensitive/index.ts";
import { withKb } from "../context.ts";

/** A document by id or source; a source several documents share answers with their list (give an id then). */
async function documentId(kb: Kb, ref: string): Promise<string> {
  try {
    return await kb.access.documentIdByRef(SYSTEM_ACTOR, ref, [ref, path.resolve(ref)]);
  } catch (err) {
    if (err instanceof ServiceError && err.code === "ambiguous_document") {
      const candidates = (err.details?.candidates ?? []) as DocumentCandidate[];
      const lines = candidates.map((c) => `  ${c.id}\t${c.source}\towner=${c.owner ?? "-"}\t${c.title}`);
      throw new Error(`"${ref}" names ${candidates.length} documents; give one of these ids:\n${lines.join("\n")}`);
    }
    if (err instanceof ServiceError && err.status === 404) throw new Error(`no document "${ref}" (give its id or source)`);
    throw err;
  }
}

interface ChangeOptions {
  allow?: string;
  deny?: string;
  manage?: string;
  addAllow?: string;
  removeAllow?: string;
  addDeny?: string;
  removeDeny?: string;
  classification?: string;
}

function withChangeOptions(cmd: Command): Command {
  return cmd
    .option("--allow <principals>", "replace the allow list, e.g. group:hr,user:kim")
    .option("--deny <principals>", "replace the deny list")
    .option("--manage <principals>", "replace who may manage the document besides its owner")
    .option("--add-allow <principals>", "add to the allow list")
    .option("--remove-allow <principals>", "remove from the allow list")
    .option("--add-deny <principals>", "add to the deny list")
    .option("--remove-deny <principals>", "remove from the deny list")
    .option("--classification <label>", "public | internal | confidential | secret");
}

function changeFrom(o: ChangeOptions): AclChange {
  const list = (v: string | undefined) => (v === undefined ? undefined : parsePrincipalList(v));
  const change: AclChange = {
    allow: list(o.allow),
    deny: list(o.deny),
    manage: list(o.manage),
    addAllow: list(o.addAllow),
    removeAllow: list(o.removeAllow),
    addDeny: list(o.addDeny),
    removeDeny: list(o.removeDeny),
    classification: o.classification ? classificationLevel(o.classification) : undefined,
  };
  return Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined)) as AclChange;
}

const fmtAccess = (a: { allow: string[]; deny: string[]; classification: number; manage?: string[] }) =>
  `allow=[${a.allow.join(",")}] deny=[${a.deny.join(",")}] ${classificationLabel(a.classification)}${a.manage?.length ? ` manage=[${a.manage.join(",")}]` : ""}`;

export function registerAdminCommands(program: Command): void {
  const policy = program.command("policy").description("policy files (roles.json, document-rules.json) and access explanations");
  policy
    .command("validate")
    .description("check the policy files; exit code 1 when one is invalid")
    .option("--dir <dir>", "policy folder (default KB_POLICY_DIR or <data>/policies)")
    .action((o: { dir?: string }) => {
      const dir = path.resolve(o.dir ?? loadConfig(process.env).policyDir);
      let ok = true;
      for (const r of PolicyFiles.validate(dir)) {
        console.log(`${r.ok ? "ok     " : "INVALID"} ${r.file}: ${r.summary}`);
        for (const i of r.issues) console.log(`        - ${i}`);
        ok &&= r.ok;
      }
      if (!ok) process.exitCode = 1;
    });
  policy
    .command("show")
    .description("the roles and document default rules in force")
    .action(async () =>
      withKb(async (kb) => {
        console.log(`policy folder: ${kb.policy.dir}`);
        for (const r of kb.policy.roles().list()) console.log(`role ${r.name}${r.builtin ? " (built-in)" : ""}: ${r.capabilities.join(", ") || "(no capabilities)"}`);
        const rules = kb.policy.documentRules().rules;
        if (rules.length === 0) console.log("document rules: none (default: group:everyone, internal)");
        for (const r of rules) {
          const m = [r.match.path && `path ${r.match.path.map((g) => g.pattern).join("|")}`, r.match.ext && `ext ${r.match.ext.join("|")}`, r.match.tags && `tag ${r.match.tags.join("|")}`, r.match.owner && `owner ${r.match.owner.join("|")}`].filter(Boolean).join(" and ") || "every document";
          const sets = [r.allow && `allow=[${r.allow.join(",")}]`, r.deny && `deny+=[${r.deny.join(",")}]`, r.classification !== undefined && `classification≥${classificationLabel(r.classification)}`, r.tags && `tags+=[${r.tags.join(",")}]`].filter(Boolean).join(" ");
          console.log(`rule ${r.name}: when ${m} → ${sets}`);
        }
      }),
    );
  policy
    .command("explain <document>")
    .description("why a user may or may not read a document (by id or source)")
    .requiredOption("--as <user>", "the user to explain for")
    .option("--json", "print JSON (with the full rule trace)")
    .action(async (document: string, o: { as: string; json?: boolean }) =>
      withKb(async (kb) => {
        const e = await kb.access.explain(SYSTEM_ACTOR, o.as, await documentId(kb, document));
        if (o.json) return void console.log(JSON.stringify(e, null, 2));
        console.log(`${e.allowed ? "ALLOWED" : "DENIED"}: user:${e.user} ${e.allowed ? "may" : "may not"} read ${e.document.id} (${e.document.source})`);
        console.log(`  document: ${fmtAccess(e.document)} owner=${e.document.owner ?? "-"}`);
        console.log(`  principals: ${e.principals.join(", ")}`);
        for (const r of e.reasons) console.log(`  - ${r}`);
        const actions = Object.entries(e.actions).map(([a, ok]) => `${a}=${ok ? "yes" : "no"}`);
        console.log(`  actions: ${actions.join(" ")}`);
        if (e.defaultRules.length) console.log(`  default rules matching this source now: ${e.defaultRules.join(", ")}`);
      }),
    );

  const acl = program.command("acl").description("document access lists and classification (applied to the next query, no re-embedding)");
  withChangeOptions(acl.command("set <document>").description("change one document's access (by id or source)")).action(async (document: string, o: ChangeOptions) =>
    withKb(async (kb) => {
      const r = await kb.access.setAcl(SYSTEM_ACTOR, await documentId(kb, document), changeFrom(o));
      console.log(r.changed ? `${r.id}: ${fmtAccess(r.before)}\n  → ${fmtAccess(r.after)}` : `${r.id}: unchanged (${fmtAccess(r.after)})`);
    }),
  );
  withChangeOptions(
    acl
      .command("bulk")
      .description("change the access of many documents: select with --prefix, --tag, --query and/or --ids (combined with AND)")
      .option("--prefix <path>", "source path prefix")
      .option("--tag <tag>", "documents with this tag")
      .option("--query <text>", "documents among the top search hits")
      .option("--ids <ids>", "comma-separated document ids")
      .option("--dry-run", "show what would change"),
  ).action(async (o: ChangeOptions & { prefix?: string; tag?: string; query?: string; ids?: string; dryRun?: boolean }) =>
    withKb(async (kb) => {
      const selector: DocumentSelector = {
        ...(o.prefix ? { prefix: o.prefix.startsWith("/") ? o.prefix : path.resolve(o.prefix) } : {}),
        ...(o.tag ? { tag: o.tag } : {}),
        ...(o.query ? { query: o.query } : {}),
        ...(o.ids ? { ids: o.ids.split(",").map((s) => s.trim()).filter(Boolean) } : {}),
      };
      const started = performance.now();
      const r = await kb.access.bulk(SYSTEM_ACTOR, selector, changeFrom(o), { dryRun: o.dryRun });
      for (const c of r.changed) console.log(`${r.dryRun ? "would change" : "changed"} ${c.id} ${c.source}: ${fmtAccess(c.before)} → ${fmtAccess(c.after)}`);
      for (const s of r.skipped) console.log(`skipped ${s.id}: ${s.reason}`);
      console.log(`${r.matched} matched, ${r.changed.length} ${r.dryRun ? "would change" : "changed"}, ${r.unchanged.length} unchanged, ${r.skipped.length} skipped (${Math.round(performance.now() - started)} ms)`);
    }),
  );

  const audit = program
    .command("audit")
    .description("the audit log, newest first (`kb audit verify`: check its hash chain)")
    .option("--actor <principal>", "e.g. user:kim")
    .option("--action <action>", 'an action, or a prefix ending in "." or "*"')
    .option("--target <target>")
    .option("--outcome <outcome>", "ok | denied | error")
    .option("--since <time>", "ISO time")
    .option("--until <time>", "ISO time")
    .option("-n, --limit <n>", "events (ignored with --jsonl, which exports all)", "50")
    .option("--jsonl", "export every matching event as JSON lines")
    .action(async (o: { actor?: string; action?: string; target?: string; outcome?: "ok" | "denied" | "error" | "warning"; since?: string; until?: string; limit: string; jsonl?: boolean }) =>
      withKb(async (kb) => {
        const filters = { actor: o.actor, action: o.action, target: o.target, outcome: o.outcome, since: o.since, until: o.until };
        if (o.jsonl) {
          for await (const row of kb.audit.export(SYSTEM_ACTOR, filters)) process.stdout.write(auditJsonLine(row));
          return;
        }
        for (const e of (await kb.audit.query(SYSTEM_ACTOR, { ...filters, limit: Number(o.limit) })).items) {
          console.log(`${e.at}\t${e.outcome}\t${e.actor ?? "-"}\t${e.action}\t${e.target ?? "-"}\t${e.details ? JSON.stringify(e.details) : ""}`);
        }
      }),
    );
  audit
    .command("verify")
    .description("check the audit log's hash chain from the oldest kept event to the newest; exit 1 naming the first broken event")
    .option("--json", "print the result as JSON")
    .action(async (o: { json?: boolean }) =>
      withKb(async (kb) => {
        const r = await kb.audit.verify(SYSTEM_ACTOR);
        if (o.json) console.log(JSON.stringify(r));
        else {
          const from = r.anchor ? `the anchor of the last purge (event ${r.anchor.id})` : "the first event";
          if (r.ok) console.log(`audit chain intact: ${r.checked} events from ${from} to ${r.last ? `event ${r.last.id} (hash ${r.last.hash})` : "the end"}`);
          else console.log(`audit chain BROKEN at event ${r.broken!.id}: ${r.broken!.reason} (${r.checked} events before it chain from ${from})`);
          if (r.erased.length) console.log(`${r.erased.length} events had a deleted document's names scrubbed (their original details' digest is kept): ${r.erased.slice(0, 20).join(", ")}${r.erased.length > 20 ? ", …" : ""}`);
        }
        if (!r.ok) process.exitCode = 1;
      }),
    );

  const sensitive = program.command("sensitive").description("personal data found in documents (masked for users without view_sensitive)");
  sensitive
    .command("report")
    .description("documents with personal data and counts per kind")
    .option("--kind <kind>", "rrn | phone | email | card | account")
    .action(async (o: { kind?: SensitiveKind }) =>
      withKb(async (kb) => {
        const rows = await kb.sensitive.report(SYSTEM_ACTOR, o.kind);
        if (rows.length === 0) console.log("no personal data recorded");
        for (const r of rows) console.log(`${r.documentId}\t${r.source}\t${Object.entries(r.counts).map(([k, n]) => `${k}=${n}`).join(" ")}`);
      }),
    );
  sensitive
    .command("scan")
    .description("re-detect personal data in every indexed chunk (e.g. for documents ingested before detection existed)")
    .action(async () =>
      withKb(async (kb) => {
        const r = await kb.sensitive.scan(SYSTEM_ACTOR);
        console.log(`scanned ${r.chunks} chunks of ${r.documents} documents: ${r.withPersonalData} contain personal data`);
      }),
    );
}
