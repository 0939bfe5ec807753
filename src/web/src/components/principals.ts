/** Suggestions for access lists: groups and users where the signed-in user may list them. */
import { useQuery } from "@tanstack/react-query";
import { apiFetch } from "../api/client";

export function usePrincipalSuggestions(): string[] {
  const q = useQuery({
    queryKey: ["principal-suggestions"],
    staleTime: 60_000,
    queryFn: async () => {
      const out: string[] = [];
      const [groups, users] = await Promise.all([apiFetch("/api/v1/admin/groups"), apiFetch("/api/v1/admin/users")]);
      if (groups.ok) for (const g of ((await groups.json()) as { items: { name: string }[] }).items) out.push(`group:${g.name}`);
      if (users.ok) for (const u of ((await users.json()) as { items: { name: string }[] }).items) out.push(`user:${u.name}`);
      return out;
    },
  });
  return q.data ?? [];
}

export const CLASSIFICATION_LEVELS = ["public", "internal", "confidential", "secret"] as const;
