/**
 * A search or ask scope ("only in 인사규정"): type, folder, tag, updated range and title.
 * The server combines it with the user's access inside the search (SearchScope in the API).
 */
import { Group, MultiSelect, TextInput } from "@mantine/core";
import { useTranslation } from "react-i18next";
import type { components } from "../api/client";

export type SearchScope = components["schemas"]["SearchScope"];

export interface ScopeForm {
  types: string[];
  folder: string;
  tag: string;
  since: string;
  until: string;
  q: string;
}

export const EMPTY_SCOPE: ScopeForm = { types: [], folder: "", tag: "", since: "", until: "", q: "" };
export const DOCUMENT_TYPES = ["pdf", "docx", "hwp", "hwpx", "xlsx", "pptx", "md", "txt", "html", "eml", "csv"];

/** The form as the API's scope; undefined when nothing is chosen. Dates cover whole days, local time. */
export function toScope(f: ScopeForm): SearchScope | undefined {
  const s: SearchScope = {};
  if (f.types.length) s.types = f.types;
  if (f.folder.trim()) s.folder = f.folder.trim();
  if (f.tag.trim()) s.tag = f.tag.trim();
  if (f.q.trim()) s.q = f.q.trim();
  if (f.since) s.updatedSince = new Date(`${f.since}T00:00:00`).toISOString();
  if (f.until) s.updatedUntil = new Date(`${f.until}T23:59:59.999`).toISOString();
  return Object.keys(s).length ? s : undefined;
}

export function scopeCount(f: ScopeForm): number {
  return [f.types.length > 0, !!f.folder.trim(), !!f.tag.trim(), !!f.q.trim(), !!f.since, !!f.until].filter(Boolean).length;
}

export function ScopeFields({ value, onChange }: { value: ScopeForm; onChange: (f: ScopeForm) => void }) {
  const { t } = useTranslation();
  const set = <K extends keyof ScopeForm>(k: K) => (v: ScopeForm[K]) => onChange({ ...value, [k]: v });
  return (
    <Group align="flex-end" wrap="wrap" gap="sm">
      <TextInput label={t("scope.title")} placeholder={t("scope.titlePlaceholder")} value={value.q} onChange={(e) => set("q")(e.currentTarget.value)} w={180} />
      <MultiSelect label={t("documents.type")} data={DOCUMENT_TYPES.map((x) => ({ value: x, label: x.toUpperCase() }))} value={value.types} onChange={set("types")} clearable w={180} />
      <TextInput label={t("documents.folder")} placeholder="hr/" value={value.folder} onChange={(e) => set("folder")(e.currentTarget.value)} w={150} />
      <TextInput label={t("access.tag")} value={value.tag} onChange={(e) => set("tag")(e.currentTarget.value)} w={120} />
      <TextInput type="date" label={t("documents.updatedSince")} value={value.since} onChange={(e) => set("since")(e.currentTarget.value)} w={160} />
      <TextInput type="date" label={t("documents.updatedUntil")} value={value.until} onChange={(e) => set("until")(e.currentTarget.value)} w={160} />
    </Group>
  );
}
