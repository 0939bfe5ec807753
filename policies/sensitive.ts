/**
 * Personal data found in documents (resident registration numbers, phone numbers, e-mail
 * addresses, card and bank account numbers). Everyone who may read a document sees it masked
 * unless they hold `view_sensitive`; per-document counts are reported to those who may see the
 * data or manage every document.
 */
import { hasCapability, type Actor } from "./actor.ts";
import { allow, can, resource } from "./policy.ts";

export const SensitiveData = resource<null>("sensitive_data");

allow(SensitiveData, "view", (actor) => hasCapability(actor, "view_sensitive"));
allow(SensitiveData, "report", (actor) => hasCapability(actor, "view_sensitive") || hasCapability(actor, "manage_all_documents"));
// A scan re-detects in every document's chunks, readable or not: only for those who manage them all.
allow(SensitiveData, "scan", (actor) => hasCapability(actor, "manage_all_documents"));

/** True when text shown to `actor` must have its personal data masked. */
export function mustMask(actor: Actor): boolean {
  return !can(actor, "view", SensitiveData, null);
}
