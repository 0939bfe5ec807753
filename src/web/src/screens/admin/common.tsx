import { notifications } from "@mantine/notifications";
import type { TFunction } from "i18next";
import { ApiError, type components } from "../../api/client";

// The API's own shapes, from the generated client (never written again by hand).
type Schemas = components["schemas"];
export type User = Schemas["User"];
export type Group = Schemas["Group"];
export type Member = Group["members"][number];
export type Token = Schemas["Token"];

/** An error notification with the server's code and message. */
export function notifyError(t: TFunction, err: unknown): void {
  const text = err instanceof ApiError ? `${err.code}: ${err.message}` : String(err);
  notifications.show({ color: "red", title: t("common.error"), message: text });
}

export function notifyDone(message: string): void {
  notifications.show({ color: "green", message });
}
