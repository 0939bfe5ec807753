/** UI strings in Korean and English; the browser's language picks, the language menu switches (remembered). */
import i18n from "i18next";
import LanguageDetector from "i18next-browser-languagedetector";
import { initReactI18next } from "react-i18next";
import en from "./en.json";
import ko from "./ko.json";

export const LANGUAGES = [
  { code: "ko", label: "한국어" },
  { code: "en", label: "English" },
] as const;

void i18n
  .use(LanguageDetector)
  .use(initReactI18next)
  .init({
    resources: { en: { translation: en }, ko: { translation: ko } },
    fallbackLng: "en",
    supportedLngs: ["en", "ko"],
    nonExplicitSupportedLngs: true,
    load: "languageOnly",
    interpolation: { escapeValue: false }, // React escapes
    detection: { order: ["localStorage", "navigator"], caches: ["localStorage"], lookupLocalStorage: "kb.lang" },
    returnNull: false,
  });

i18n.on("languageChanged", (lng) => {
  document.documentElement.lang = lng.startsWith("ko") ? "ko" : "en";
});
document.documentElement.lang = i18n.resolvedLanguage ?? "en";

export default i18n;
