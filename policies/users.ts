/**
 * Accounts: users, groups, memberships and API tokens. Only holders of `manage_users` change
 * them; everyone may see their own account and tokens (the `self` actions).
 */
import { hasCapability, type Actor } from "./actor.ts";
import { allow, resource } from "./policy.ts";

/** The subject is the user acted on, when there is one (null for list/create). */
export interface AccountSubject {
  name: string;
}
export const Users = resource<AccountSubject | null>("users");
export const Groups = resource<null>("groups");
export const Tokens = resource<AccountSubject | null>("tokens");

const manages = (actor: Actor) => hasCapability(actor, "manage_users");
const isSelf = (actor: Actor, subject: AccountSubject | null) => subject !== null && subject.name === actor.name;

allow(Users, ["list", "create", "update", "delete", "manage_tokens", "purge_history"], manages);
allow(Users, "read", (actor, subject) => manages(actor) || isSelf(actor, subject));
allow(Groups, ["list", "create", "delete", "add_member", "remove_member"], manages);
allow(Tokens, ["list", "create", "revoke", "expire"], manages);
/** A user may list and revoke their own tokens (but not create more: that stays with admins). */
allow(Tokens, ["list", "revoke"], isSelf);
/**
 * Passwords and web sessions: admins set or reset anyone's password and see and end anyone's
 * sessions; a signed-in user changes their own password (giving the old one) and ends their own
 * sessions.
 */
allow(Users, ["set_password", "list_sessions", "revoke_sessions"], manages);
allow(Users, ["change_password", "list_sessions", "revoke_sessions"], isSelf);

/**
 * The directory (user and group names, for choosing who may read an upload): those who may
 * upload or manage documents or accounts. Names only; memberships and roles stay with `list`.
 */
allow(Users, "directory", (actor) => ["ingest", "manage_own_documents", "manage_all_documents", "manage_users"].some((c) => hasCapability(actor, c as never)));
