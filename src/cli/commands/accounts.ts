import type { Command } from "commander";
import { classificationLevel } from "../../../policies/index.ts";
import { splitList, withKb } from "../context.ts";

export function registerAccountCommands(program: Command): void {
  const users = program.command("users").description("manage users");
  users
    .command("add <name>")
    .description("create a user")
    .option("--role <role>", "admin | editor | viewer", "viewer")
    .option("--groups <list>", "comma-separated groups (created when missing)")
    .option("--clearance <label>", "public | internal | confidential | secret", "internal")
    .action(async (name: string, o: { role: string; groups?: string; clearance: string }) =>
      withKb(async (kb) => {
        const u = kb.accounts.createUser({ name, role: o.role, groups: splitList(o.groups), clearance: classificationLevel(o.clearance) });
        kb.audit.record("system", "user.create", `user:${name}`, { after: { role: u.role, groups: splitList(o.groups), clearance: u.clearance } });
        console.log(`created user ${u.name} (${u.role})`);
      }),
    );
  users
    .command("list")
    .description("list users")
    .action(async () =>
      withKb(async (kb) => {
        for (const u of kb.accounts.listUsers()) console.log(`${u.name}\t${u.role}\tclearance=${u.clearance}\tgroups=${u.groups.join(",")}`);
      }),
    );

  const groups = program.command("groups").description("manage groups");
  groups
    .command("add <name>")
    .description("create a group")
    .option("--members <list>", "comma-separated user:<name> or group:<name> (or bare user names)")
    .action(async (name: string, o: { members?: string }) =>
      withKb(async (kb) => {
        kb.accounts.createGroup(name);
        for (const m of splitList(o.members)) {
          const [kind, member] = m.startsWith("group:") ? (["group", m.slice(6)] as const) : (["user", m.replace(/^user:/, "")] as const);
          kb.accounts.addToGroup(name, kind, member);
        }
        kb.audit.record("system", "group.create", `group:${name}`, { members: splitList(o.members) });
        console.log(`group ${name} ready`);
      }),
    );
  groups
    .command("list")
    .description("list groups")
    .action(async () =>
      withKb(async (kb) => {
        for (const g of kb.accounts.listGroups()) console.log(g.name);
      }),
    );

  const tokens = program.command("tokens").description("manage API tokens");
  tokens
    .command("create <user>")
    .description("create a token for a user; prints only the token")
    .option("--name <name>", "a label for the token")
    .option("--expires-days <n>", "days until it expires")
    .action(async (user: string, o: { name?: string; expiresDays?: string }) =>
      withKb(async (kb) => {
        const { token, info } = kb.accounts.createToken(user, { name: o.name, expiresInDays: o.expiresDays ? Number(o.expiresDays) : undefined });
        kb.audit.record("system", "token.create", `user:${user}`, { tokenId: info.id, expiresAt: info.expiresAt });
        process.stdout.write(`${token}\n`);
      }),
    );
  tokens
    .command("list <user>")
    .description("list a user's tokens (never the secrets)")
    .action(async (user: string) =>
      withKb(async (kb) => {
        for (const t of kb.accounts.listTokens(user))
          console.log(`${t.id}\t${t.name ?? ""}\tcreated=${t.createdAt}\texpires=${t.expiresAt ?? "never"}\t${t.revokedAt ? "REVOKED" : "active"}`);
      }),
    );
  tokens
    .command("revoke <tokenId>")
    .description("revoke a token at once")
    .action(async (id: string) =>
      withKb(async (kb) => {
        kb.accounts.revokeToken(id);
        kb.audit.record("system", "token.revoke", id);
        console.log(`revoked ${id}`);
      }),
    );
}
