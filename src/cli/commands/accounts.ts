import type { Command } from "commander";
import { classificationLevel, SCOPE_NAMES, SYSTEM_ACTOR } from "../../../policies/index.ts";
import { splitList, withKb } from "../context.ts";

export function registerAccountCommands(program: Command): void {
  const users = program.command("users").description("manage users");
  users
    .command("add <name>")
    .description("create a user")
    .option("--role <role>", "admin | editor | viewer, or a custom role from roles.json", "viewer")
    .option("--groups <list>", "comma-separated groups (created when missing)")
    .option("--clearance <label>", "public | internal | confidential | secret", "internal")
    .action(async (name: string, o: { role: string; groups?: string; clearance: string }) =>
      withKb(async (kb) => {
        const u = await kb.admin.createUser(SYSTEM_ACTOR, { name, role: o.role, groups: splitList(o.groups), clearance: classificationLevel(o.clearance) });
        console.log(`created user ${u.name} (${u.role})`);
      }),
    );
  users
    .command("create-service <name>")
    .description("create a service account: an integration's user that only uses API tokens (never a password or single sign-on)")
    .option("--role <role>", "admin | editor | viewer, or a custom role from roles.json", "viewer")
    .option("--groups <list>", "comma-separated groups (created when missing)")
    .option("--clearance <label>", "public | internal | confidential | secret", "internal")
    .action(async (name: string, o: { role: string; groups?: string; clearance: string }) =>
      withKb(async (kb) => {
        const u = await kb.admin.createUser(SYSTEM_ACTOR, { name, kind: "service", role: o.role, groups: splitList(o.groups), clearance: classificationLevel(o.clearance) });
        console.log(`created service account ${u.name} (${u.role}); give it a token with: kb tokens create ${u.name} --scope …`);
      }),
    );
  users
    .command("list")
    .description("list users")
    .action(async () =>
      withKb(async (kb) => {
        for (const u of await kb.admin.listUsers(SYSTEM_ACTOR))
          console.log(`${u.name}\t${u.role}\tclearance=${u.clearance}\tkind=${u.kind}\tsource=${u.source}\tgroups=${u.groups.join(",")}${u.disabled ? "\tdisabled" : ""}${u.displayName ? `\t${JSON.stringify(u.displayName)}` : ""}`);
      }),
    );
  users
    .command("conflicts")
    .description("users and groups whose names collide once canonicalized (NFKC + case folding) or look alike; exits 1 when there are any")
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) =>
      withKb(async (kb) => {
        const c = await kb.admin.nameConflicts(SYSTEM_ACTOR);
        if (o.json) console.log(JSON.stringify(c, null, 2));
        else {
          for (const x of c.collisions) console.log(`collision\t${x.kind}:${x.canonical}\t${x.names.map((n) => JSON.stringify(n)).join(" ")}`);
          for (const x of c.confusables) console.log(`look-alike\t${x.principals.join(" ")}`);
          if (!c.collisions.length && !c.confusables.length) console.log("no conflicts");
        }
        if (c.collisions.length || c.confusables.length) process.exitCode = 1;
      }),
    );

  const groups = program.command("groups").description("manage groups");
  groups
    .command("add <name>")
    .description("create a group")
    .option("--members <list>", "comma-separated user:<name> or group:<name> (or bare user names)")
    .action(async (name: string, o: { members?: string }) =>
      withKb(async (kb) => {
        // One transaction: an unknown member leaves no group behind.
        const g = await kb.admin.createGroup(SYSTEM_ACTOR, name, { members: splitList(o.members) });
        console.log(`group ${g.name} ready`);
      }),
    );
  groups
    .command("list")
    .description("list groups: name, source (local, oidc:…, ldap:…, scim:…) and display name")
    .action(async () =>
      withKb(async (kb) => {
        for (const g of await kb.admin.listGroups(SYSTEM_ACTOR)) console.log(`${g.name}\t${g.source}${g.displayName ? `\t${JSON.stringify(g.displayName)}` : ""}`);
      }),
    );

  const tokens = program.command("tokens").description("manage API tokens");
  tokens
    .command("create <user>")
    .description("create a token for a user; prints only the token")
    .option("--name <name>", "a label for the token")
    .option("--expires-days <n>", "days until it expires")
    .option("--scope <scope>", `limit the token to a scope (repeatable): ${SCOPE_NAMES.join(" | ")}; default: everything the user's role allows`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--rate <n>", "the token's own requests per minute instead of the server's (0: unlimited)")
    .action(async (user: string, o: { name?: string; expiresDays?: string; scope: string[]; rate?: string }) =>
      withKb(async (kb) => {
        const { token } = await kb.admin.createToken(SYSTEM_ACTOR, user, {
          name: o.name,
          expiresInDays: o.expiresDays ? Number(o.expiresDays) : undefined,
          scopes: o.scope.length ? o.scope : undefined,
          rateLimitPerMinute: o.rate !== undefined ? Number(o.rate) : undefined,
        });
        process.stdout.write(`${token}\n`);
      }),
    );
  tokens
    .command("list <user>")
    .description("list a user's tokens (never the secrets)")
    .action(async (user: string) =>
      withKb(async (kb) => {
        for (const t of await kb.admin.listTokens(SYSTEM_ACTOR, user))
          console.log(
            `${t.id}\t${t.name ?? ""}\tcreated=${t.createdAt}\texpires=${t.expiresAt ?? "never"}\tscopes=${t.scopes?.join(",") ?? "all"}\trate=${t.rateLimitPerMinute ?? "default"}\t${t.revokedAt ? "REVOKED" : "active"}`,
          );
      }),
    );
  tokens
    .command("revoke <tokenId>")
    .description("revoke a token at once")
    .action(async (id: string) =>
      withKb(async (kb) => {
        await kb.admin.revokeToken(SYSTEM_ACTOR, id);
        console.log(`revoked ${id}`);
      }),
    );
  tokens
    .command("expire <tokenId>")
    .description("set a token's expiry (default: now, which rejects it at once)")
    .option("--at <time>", "ISO time of expiry")
    .option("--never", "remove the expiry")
    .action(async (id: string, o: { at?: string; never?: boolean }) =>
      withKb(async (kb) => {
        const t = await kb.admin.expireToken(SYSTEM_ACTOR, id, o.never ? null : o.at);
        console.log(`${t.id}\texpires=${t.expiresAt ?? "never"}`);
      }),
    );

  users
    .command("set <name>")
    .description("change a user's role, clearance or disabled flag")
    .option("--role <role>", "a built-in or custom role")
    .option("--clearance <label>", "public | internal | confidential | secret")
    .option("--disable", "disable the user (its tokens stop working)")
    .option("--enable", "enable the user")
    .action(async (name: string, o: { role?: string; clearance?: string; disable?: boolean; enable?: boolean }) =>
      withKb(async (kb) => {
        const u = await kb.admin.updateUser(SYSTEM_ACTOR, name, {
          role: o.role,
          clearance: o.clearance ? classificationLevel(o.clearance) : undefined,
          disabled: o.disable ? true : o.enable ? false : undefined,
        });
        console.log(`${u.name}\t${u.role}\tclearance=${u.clearance}\t${u.disabled ? "disabled" : "enabled"}`);
      }),
    );
  users
    .command("remove <name>")
    .description("delete a user, its tokens and memberships")
    .action(async (name: string) =>
      withKb(async (kb) => {
        await kb.admin.deleteUser(SYSTEM_ACTOR, name);
        console.log(`removed user ${name}`);
      }),
    );
  users
    .command("purge-history <name>")
    .description("erase a (departed) user's conversations and feedback on answers (personal data), keeping the account; audited (`users remove` deletes both with the account)")
    .action(async (name: string) =>
      withKb(async (kb) => {
        const r = await kb.admin.purgeHistory(SYSTEM_ACTOR, name);
        console.log(`purged ${r.user}: ${r.conversations} conversations, ${r.feedback} feedback`);
      }),
    );
  users
    .command("show <name>")
    .description("a user's role, capabilities and (nested) group memberships")
    .action(async (name: string) =>
      withKb(async (kb) => {
        const u = await kb.admin.getUser(SYSTEM_ACTOR, name);
        console.log(`${u.name}\t${u.role}\tclearance=${u.clearance}\t${u.disabled ? "disabled" : "enabled"}`);
        console.log(`capabilities: ${u.capabilities.join(", ") || "(none)"}`);
        for (const [g, chain] of Object.entries(u.memberOf)) console.log(`group:${g}\tvia ${chain.join(" → ")}`);
      }),
    );

  groups
    .command("remove <name>")
    .description("delete a group and its memberships")
    .action(async (name: string) =>
      withKb(async (kb) => {
        await kb.admin.deleteGroup(SYSTEM_ACTOR, name);
        console.log(`removed group ${name}`);
      }),
    );
  groups
    .command("members <name>")
    .description("list a group's direct members with who wrote each membership: manual (an admin; a manual override in a directory group) or the directory source")
    .action(async (name: string) =>
      withKb(async (kb) => {
        for (const m of (await kb.admin.getGroup(SYSTEM_ACTOR, name)).memberOrigins)
          console.log(`${m.kind}:${m.name}\t${m.override ? "manual override" : m.origin}${m.displayName ? `\t${JSON.stringify(m.displayName)}` : ""}`);
      }),
    );
  groups
    .command("add-member <group> <member>")
    .description("add user:<name> or group:<name> (nested) to a group")
    .action(async (group: string, member: string) =>
      withKb(async (kb) => {
        await kb.admin.addMember(SYSTEM_ACTOR, group, member);
        console.log(`added ${member} to ${group}`);
      }),
    );
  groups
    .command("remove-member <group> <member>")
    .description("remove user:<name> or group:<name> from a group")
    .action(async (group: string, member: string) =>
      withKb(async (kb) => {
        await kb.admin.removeMember(SYSTEM_ACTOR, group, member);
        console.log(`removed ${member} from ${group}`);
      }),
    );
}
