/**
 * `kb scim token create|list|revoke`: the bearer tokens an identity provider uses to provision
 * users and groups through /scim/v2 (their own kind: user API tokens are refused there).
 */
import type { Command } from "commander";
import { SYSTEM_ACTOR } from "../../../policies/index.ts";
import { withKb } from "../context.ts";

export function registerScimCommands(program: Command): void {
  const scim = program.command("scim").description("SCIM 2.0 provisioning (/scim/v2) for identity providers (Entra ID, Okta …)");
  const token = scim.command("token").description("manage SCIM tokens (prefix kbscim_; only their SHA-256 is stored)");
  token
    .command("create")
    .description("create a SCIM token for this server's SCIM source (KB_SCIM_SOURCE); prints only the token, once")
    .option("--name <name>", "a label (which identity provider uses it)")
    .option("--expires-days <n>", "days until it expires")
    .action(async (o: { name?: string; expiresDays?: string }) =>
      withKb(async (kb) => {
        const { token: secret, info } = await kb.scim.createToken(SYSTEM_ACTOR, { name: o.name, expiresInDays: o.expiresDays ? Number(o.expiresDays) : undefined });
        process.stdout.write(`${secret}\n`);
        console.error(`SCIM token ${info.id} for ${info.source}${info.expiresAt ? `, expires ${info.expiresAt}` : ""}`);
      }),
    );
  token
    .command("list")
    .description("list SCIM tokens (never the secrets)")
    .action(async () =>
      withKb(async (kb) => {
        for (const t of await kb.scim.listTokens(SYSTEM_ACTOR)) {
          console.log(`${t.id}\t${t.name ?? ""}\t${t.source}\tcreated=${t.createdAt}\texpires=${t.expiresAt ?? "never"}\tlast-used=${t.lastUsedAt ?? "never"}\t${t.revokedAt ? "REVOKED" : "active"}`);
        }
      }),
    );
  token
    .command("revoke <tokenId>")
    .description("revoke a SCIM token at once")
    .action(async (id: string) =>
      withKb(async (kb) => {
        await kb.scim.revokeToken(SYSTEM_ACTOR, id);
        console.log(`revoked ${id}`);
      }),
    );
}
