/** Suggestions for access lists: GET /api/v1/directory (user and group names, for uploaders and managers). */
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";

export function usePrincipalSuggestions(): string[] {
  const q = useQuery({
    queryKey: ["directory"],
    staleTime: 60_000,
    retry: false,
    queryFn: async () => unwrap(await api.GET("/api/v1/directory")),
  });
  if (!q.data) return [];
  return [...q.data.groups.map((g) => `group:${g.name}`), ...q.data.users.map((u) => `user:${u}`)];
}

export const CLASSIFICATION_LEVELS = ["public", "internal", "confidential", "secret"] as const;
