/** What the LDAP source needs of the directory core (services/directory.ts). */
import type { DirectoryService } from "../directory.ts";

export type DirectoryApi = Pick<DirectoryService, "upsertUser" | "upsertGroup" | "setUserGroups" | "setGroupMembers" | "deactivateUser" | "removeGroup" | "usersOf" | "groupsOf">;
