import { Alert } from "@mantine/core";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Navigate, Route, Routes } from "react-router";
import { useSession } from "../../api/session";
import { AccessScreen } from "./Access";
import { AuditScreen } from "./Audit";
import { FeedbackReviewScreen } from "./FeedbackReview";
import { GroupsScreen } from "./Groups";
import { JobsScreen } from "./Jobs";
import { PersonalDataScreen } from "./PersonalData";
import { SystemScreen } from "./System";
import { TokensScreen } from "./Tokens";
import { UsersScreen } from "./Users";

/** Admin screens, each shown only with its capability (the API checks every request anyway). */
function Guard({ any, children }: { any: string[]; children: ReactNode }) {
  const { t } = useTranslation();
  const { can } = useSession();
  if (!any.some(can)) return <Alert color="yellow">{t("common.forbidden")}</Alert>;
  return <>{children}</>;
}

export default function Admin() {
  return (
    <Routes>
      <Route path="users" element={<Guard any={["manage_users"]}><UsersScreen /></Guard>} />
      <Route path="users/:name" element={<Guard any={["manage_users"]}><UsersScreen /></Guard>} />
      <Route path="groups" element={<Guard any={["manage_users"]}><GroupsScreen /></Guard>} />
      <Route path="tokens" element={<Guard any={["manage_users"]}><TokensScreen /></Guard>} />
      <Route path="access" element={<Guard any={["manage_all_documents"]}><AccessScreen /></Guard>} />
      <Route path="jobs" element={<Guard any={["ingest", "manage_all_documents"]}><JobsScreen /></Guard>} />
      <Route path="personal-data" element={<Guard any={["view_sensitive", "manage_all_documents"]}><PersonalDataScreen /></Guard>} />
      <Route path="audit" element={<Guard any={["view_audit"]}><AuditScreen /></Guard>} />
      <Route path="feedback" element={<Guard any={["review_feedback"]}><FeedbackReviewScreen /></Guard>} />
      <Route path="system" element={<Guard any={["manage_all_documents"]}><SystemScreen /></Guard>} />
      <Route path="*" element={<Navigate to="/" replace />} />
    </Routes>
  );
}
