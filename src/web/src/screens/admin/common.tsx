import { notifications } from "@mantine/notifications";
import type { TFunction } from "i18next";
import { ApiError } from "../../api/client";

export interface User {
  name: string;
  role: string;
  clearance: number;
  disabled: boolean;
  groups: string[];
  createdAt: string;
}

export interface Member {
  kind: "user" | "group";
  name: string;
}

export interface Group {
  name: string;
  description: string | null;
  members: Member[];
}

export interface Token {
  id: string;
  user: string;
  name: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** An error notification with the server's code and message. */
export function notifyError(t: TFunction, err: unknown): void {
  const text = err instanceof ApiError ? `${err.code}: ${err.message}` : String(err);
  notifications.show({ color: "red", title: t("common.error"), message: text });
}

export function notifyDone(message: string): void {
  notifications.show({ color: "green", message });
}
