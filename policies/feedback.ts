/**
 * Feedback on answers. Anyone who may ask gives feedback on their own answers (the service finds
 * the answer through its owner, so another's answer is not found); reading everyone's feedback,
 * reviewing it and exporting it as an evaluation set takes `review_feedback` (admins).
 */
import { hasCapability } from "./actor.ts";
import { allow, resource } from "./policy.ts";

export const Feedback = resource<null>("feedback");

allow(Feedback, "give", (actor) => hasCapability(actor, "search"));
allow(Feedback, ["list", "review", "export"], (actor) => hasCapability(actor, "review_feedback"));
