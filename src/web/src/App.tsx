import { Center, Loader } from "@mantine/core";
import { lazy, Suspense, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Navigate, Route, Routes, useLocation } from "react-router";
import { useSession } from "./api/session";
import { Layout } from "./components/Layout";
import { AskScreen } from "./screens/Ask";
import { SignInScreen } from "./screens/SignIn";

const DocumentView = lazy(() => import("./screens/DocumentView"));
const History = lazy(() => import("./screens/History"));
const Search = lazy(() => import("./screens/Search"));
const Documents = lazy(() => import("./screens/Documents"));
const Admin = lazy(() => import("./screens/admin/Admin"));

function Loading() {
  const { t } = useTranslation();
  return (
    <Center p="xl">
      <Loader aria-label={t("common.loading")} />
    </Center>
  );
}

function RequireSession({ children }: { children: ReactNode }) {
  const { session, loading } = useSession();
  const location = useLocation();
  if (loading) return <Loading />;
  if (!session) return <Navigate to="/signin" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

export function App() {
  return (
    <Routes>
      <Route path="/signin" element={<SignInScreen />} />
      <Route
        element={
          <RequireSession>
            <Layout />
          </RequireSession>
        }
      >
        <Route index element={<AskScreen />} />
        <Route path="c/:conversationId" element={<AskScreen />} />
        <Route path="history" element={<Lazy><History /></Lazy>} />
        <Route path="search" element={<Lazy><Search /></Lazy>} />
        <Route path="documents" element={<Lazy><Documents /></Lazy>} />
        <Route path="documents/:id" element={<Lazy><DocumentView /></Lazy>} />
        <Route path="admin/*" element={<Lazy><Admin /></Lazy>} />
        <Route path="*" element={<Navigate to="/" replace />} />
      </Route>
    </Routes>
  );
}

function Lazy({ children }: { children: ReactNode }) {
  return <Suspense fallback={<Loading />}>{children}</Suspense>;
}
