/**
 * Near-duplicate documents (issue 16 item 6): the same report saved as `final.docx`,
 * `final_v2.docx` (one word changed) and a PDF export shows up as ONE search hit listing the
 * others as `copies`, and the ask path gets one copy as its source. Only copies the asker may read
 * are listed: a hidden copy is neither named nor counted. Documents that merely share a paragraph
 * stay separate hits.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { areNearDuplicates, fingerprint, sameNaming, similarity } from "../src/domain/duplicates/fingerprint.ts";
import { zipOf } from "./formats/builders.ts";
import { buildPdf } from "./ingest/fixtures.ts";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";
import { readSse } from "./helpers/sse.ts";

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A DOCX of these paragraphs (the first as Heading1). */
function docx(paragraphs: string[]): Promise<Buffer> {
  const W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"';
  const body = paragraphs
    .map((p, i) => `<w:p>${i === 0 ? '<w:pPr><w:pStyle w:val="Heading1"/></w:pPr>' : ""}<w:r><w:t xml:space="preserve">${esc(p)}</w:t></w:r></w:p>`)
    .join("");
  return zipOf({
    "[Content_Types].xml":
      '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/></Types>',
    "_rels/.rels":
      '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
    "word/_rels/document.xml.rels":
      '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>',
    "word/document.xml": `<?xml version="1.0" encoding="UTF-8"?><w:document ${W}><w:body>${body}</w:body></w:document>`,
    "word/styles.xml": `<?xml version="1.0" encoding="UTF-8"?><w:styles ${W}><w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/></w:style></w:styles>`,
  });
}

/** Words wrapped into lines of about `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const w of text.split(" ")) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * A "PDF export" of the paragraphs: wrapped into lines, split across pages of `perPage` lines,
 * each page with a running header and a page-number footer (text the DOCX does not have).
 */
function pdfExport(paragraphs: string[], perPage = 14): Uint8Array {
  const lines = paragraphs.flatMap((p) => wrap(p, 70));
  const pages: string[][] = [];
  for (let i = 0; i < lines.length; i += perPage) pages.push(lines.slice(i, i + perPage));
  return buildPdf({ pages: pages.map((p, i) => ["Northwind Traders - confidential", ...p, `Page ${i + 1} of ${pages.length}`]) });
}

const REPORT = [
  "Quarterly Operations Report",
  "This report summarises the operations of the Northwind plant in the third quarter. Output rose by eleven percent against the second quarter, driven by the new packaging line and fewer unplanned stops.",
  "The zephyr turbine maintenance programme was completed two weeks ahead of schedule. All four turbines were inspected, two bearings were replaced, and the vibration readings are now within the manufacturer's limits.",
  "Energy costs fell by six percent after the switch to the night tariff. The finance team expects a further saving next quarter once the heat recovery unit is commissioned in October.",
  "Staffing remained stable. Three operators completed the forklift certification, and the safety committee recorded no lost-time incidents during the quarter.",
  "Next quarter the plant will focus on the warehouse extension, the supplier audit and the renewal of the waste disposal contract with the regional authority.",
];
/** final_v2: one word changed. */
const REPORT_V2 = REPORT.map((p) => p.replace("eleven percent", "twelve percent"));

const SHARED = "The heliotrope safety checklist must be signed by the shift supervisor before any machine is restarted after maintenance, and a copy kept in the shift log.";
const MEMO_A = [
  "Memo on line restarts",
  SHARED,
  "Line three restarted on Monday after the conveyor belt was replaced. The supervisor confirmed that the guards were refitted and the emergency stop was tested twice before production resumed.",
  "Operators are reminded to report any unusual noise from the new belt during its first week of service, using the defect form on the intranet.",
];
const MEMO_B = [
  "Contractor induction",
  SHARED,
  "Contractors working in the boiler house must attend the induction session on the first day, wear the blue visitor badge at all times, and sign out at the gatehouse when they leave.",
  "The facilities office keeps the list of approved contractors and the insurance certificates, which are checked every January by the purchasing department.",
];

/**
 * Look-alikes (issue 16 item 6): the same report body for two organisations, each with its own
 * cover page (what bench:lookalike's families are made of), and a true copy of one of them (same
 * cover, one word of the body changed).
 */
const AUDIT_BODY = [
  "The cobalt warehouse inventory was counted on the last working day of the quarter. Stock records matched the physical count for all but three pallets, which were traced to a delayed transfer.",
  "Access to the bonded store is logged by badge. The audit sampled forty entries and found every one authorised, with two late sign-outs recorded by the night shift.",
  "The fire suppression system in aisle four was tested in March and again in June. Both tests passed, and the maintenance contractor renewed the certificate for another year.",
  "Recommendations: move the slow-moving spare parts to the mezzanine, replace the handheld scanners before the winter count, and review the transfer approvals with the regional office.",
];
const cover = (organisation: string, period: string, number: string) => [organisation, "Internal audit report", period, `Document no. ${number}`];
const auditPdf = (coverLines: string[], body: string[]) => buildPdf({ pages: [coverLines, ...[body.slice(0, 2), body.slice(2)].map((ps) => ps.flatMap((p) => wrap(p, 70)))] });
const NORTH_COVER = cover("Northwind Traders Ltd", "Second quarter 2023", "NW-2023-207");
const SOUTH_COVER = cover("Southwind Logistics plc", "Second quarter 2023", "SW-2023-114");
const NORTH_COPY_BODY = AUDIT_BODY.map((p) => p.replace("forty entries", "forty-one entries"));

let t: TestServer;
let all: string; // may read every copy
let one: string; // may read final.docx only
let exports: string; // may read final_v2.docx and final.pdf, not final.docx
const ids: Record<string, string> = {};

const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const search = async (token: string, query: string) => {
  const res = await t.fetchAs(token, "/api/v1/search", json({ query, topK: 10 }));
  expect(res.status).toBe(200);
  return (await res.json()) as { results: Array<Record<string, any>> };
};
const name = (source: string) => source.split("/").pop();

beforeAll(async () => {
  t = await startTestServer({ rateLimitPerMinute: 0 });
  all = await t.tokenFor("lee", "viewer", ["ops"]);
  one = await t.tokenFor("park", "viewer", ["plant"]);
  exports = await t.tokenFor("choi", "viewer", ["export"]);
  const dir = path.join(t.dir, "docs");
  const [finalDocx, finalV2, finalPdf, memoA, memoB, north, south, northFinal] = writeFiles(dir, {
    "final.docx": await docx(REPORT),
    "final_v2.docx": await docx(REPORT_V2),
    "final.pdf": pdfExport(REPORT),
    "restarts.docx": await docx(MEMO_A),
    "induction.docx": await docx(MEMO_B),
    "audit-north.pdf": auditPdf(NORTH_COVER, AUDIT_BODY),
    "audit-south.pdf": auditPdf(SOUTH_COVER, AUDIT_BODY),
    "audit-north-final.pdf": auditPdf(NORTH_COVER, NORTH_COPY_BODY),
  });
  const { job, documents } = await ingestNow(t.kb, [
    { source: finalDocx!, path: finalDocx!, allow: ["group:ops", "group:plant"] },
    { source: finalV2!, path: finalV2!, allow: ["group:ops", "group:export"] },
    { source: finalPdf!, path: finalPdf!, allow: ["group:ops", "group:export"] },
    { source: memoA!, path: memoA!, allow: ["group:ops"] },
    { source: memoB!, path: memoB!, allow: ["group:ops"] },
    { source: north!, path: north!, allow: ["group:ops"] },
    { source: south!, path: south!, allow: ["group:ops"] },
    { source: northFinal!, path: northFinal!, allow: ["group:ops"] },
  ]);
  expect(job.status).toBe("succeeded");
  for (const d of documents as Array<{ documentId?: string; id?: string; source: string }>) ids[name(d.source)!] = (d.documentId ?? d.id)!;
});
afterAll(async () => t?.close());

describe("near-duplicate fingerprints", () => {
  const text = (ps: string[]) => ps.join("\n\n");
  it("finds a one-word edit and a PDF export's text (headers, page numbers, other line breaks) near-duplicate", () => {
    // The PDF export's text as its pages read: running header, wrapped lines, page numbers.
    const lines = REPORT.flatMap((p) => wrap(p, 70));
    const pdfText = [0, 14, 28].map((i, k) => ["Northwind Traders - confidential", ...lines.slice(i, i + 14), `Page ${k + 1} of 3`].join("\n")).join("\n");
    const base = fingerprint(text(REPORT));
    expect(areNearDuplicates(base, fingerprint(text(REPORT_V2)))).toBe(true);
    expect(areNearDuplicates(base, fingerprint(pdfText))).toBe(true);
    expect(similarity(base, fingerprint(text(REPORT)))).toBe(1);
  });
  it("estimates the shingle Jaccard similarity of long texts, including one contained in a longer one", () => {
    const words = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `w${from + i}`).join(" ");
    const a = fingerprint(words(0, 3000));
    // Jaccard 0.5: 2,998 shingles shared of 5,998 in all (a one-word overlap adds nothing).
    expect(similarity(a, fingerprint(words(0, 6000)))).toBeGreaterThan(0.4);
    expect(similarity(a, fingerprint(words(0, 6000)))).toBeLessThan(0.6);
    expect(similarity(fingerprint(words(0, 100)), fingerprint(words(0, 6000)))).toBeLessThan(0.1);
    expect(similarity(a, fingerprint(words(3000, 6000)))).toBe(0);
    expect(similarity(a, fingerprint(words(0, 3000).replace("w1500", "changed")))).toBeGreaterThan(0.95);
  });

  it("compares Korean text by its words (NFKC, punctuation and line breaks ignored)", () => {
    const ko = [
      "2023년 3분기 경영 보고서",
      "3분기 매출은 전 분기보다 11퍼센트 늘었으며, 새 포장 라인과 설비 정지 감소가 주된 원인이다.",
      "터빈 정비 계획은 예정보다 2주 빨리 끝났고, 네 대의 터빈을 모두 점검하여 베어링 두 개를 교체하였다.",
      "야간 요금제로 바꾼 뒤 에너지 비용이 6퍼센트 줄었고, 재무팀은 10월에 열회수 설비가 가동되면 추가 절감을 기대한다.",
      "다음 분기에는 창고 증축, 공급업체 감사, 폐기물 처리 계약 갱신에 집중할 계획이다.",
    ];
    const base = fingerprint(ko.join("\n\n"));
    expect(areNearDuplicates(base, fingerprint(ko.join("\n\n").replace("11퍼센트", "12퍼센트")))).toBe(true);
    expect(areNearDuplicates(base, fingerprint(`회사 대외비\n${ko.flatMap((p) => wrap(p, 30)).join("\n")}\n- 1 -`))).toBe(true);
    expect(areNearDuplicates(base, fingerprint([ko[0], ko[1], "전혀 다른 내용의 문단이 이어지며 인사 규정의 휴가 조항과 복리후생 제도를 설명한다.", "출장비 정산은 출장 후 30일 안에 신청해야 한다."].join("\n")))).toBe(false);
  });

  it("keeps look-alikes apart: the same body under another organisation's cover is not a copy", () => {
    const body = AUDIT_BODY.join("\n\n");
    const north = fingerprint(`${NORTH_COVER.join("\n")}\n${body}`, NORTH_COVER);
    const south = fingerprint(`${SOUTH_COVER.join("\n")}\n${body}`, SOUTH_COVER);
    // Their texts alone are copies (what folded 199 of bench:lookalike's 792 look-alike pairs)…
    expect(similarity(north, south)).toBeGreaterThanOrEqual(0.7);
    expect(sameNaming(north, south)).toBe(false);
    expect(areNearDuplicates(north, south)).toBe(false);
    // …while the same cover over a one-word edit is, and so is a copy saved without a cover page
    // (a DOCX of the PDF: the cover's lines open its text).
    expect(areNearDuplicates(north, fingerprint(`${NORTH_COVER.join("\n")}\n${NORTH_COPY_BODY.join("\n\n")}`, NORTH_COVER))).toBe(true);
    expect(areNearDuplicates(north, fingerprint(`${NORTH_COVER.join(" ")}\n${body}`))).toBe(true);
    expect(areNearDuplicates(south, fingerprint(`${NORTH_COVER.join(" ")}\n${body}`))).toBe(false);
  });

  it("keeps documents sharing a paragraph apart", () => {
    expect(similarity(fingerprint(text(MEMO_A)), fingerprint(text(MEMO_B)))).toBeLessThan(0.4);
    expect(areNearDuplicates(fingerprint(text(MEMO_A)), fingerprint(text(REPORT)))).toBe(false);
  });
});

describe("near-duplicate documents in results", () => {
  it("shows the three copies as one hit listing the two others, for a user who may read all of them", async () => {
    const { results } = await search(all, "zephyr turbine maintenance bearings");
    const copyNames = ["final.docx", "final_v2.docx", "final.pdf"];
    const hits = results.filter((r) => copyNames.includes(name(r.source)!));
    expect(hits.length).toBe(1);
    const hit = hits[0]!;
    expect(hit.copies).toHaveLength(2);
    const listed = [hit, ...hit.copies].map((c: any) => name(c.source)).sort();
    expect(listed).toEqual([...copyNames].sort());
    for (const c of hit.copies) {
      expect(Object.keys(c).sort()).toEqual(["documentId", "source", "title"]);
      expect(c.documentId).toBe(ids[name(c.source)!]);
    }
    expect(results.map((r) => r.rank)).toEqual(results.map((_, i) => i + 1));
  });

  it("lists no copy (not even a count) to a user who may read only one of them", async () => {
    const { results } = await search(one, "zephyr turbine maintenance bearings");
    expect(results.length).toBeGreaterThan(0);
    expect(results.every((r) => name(r.source) === "final.docx")).toBe(true);
    for (const r of results) expect(r).not.toHaveProperty("copies");
    expect(JSON.stringify(results)).not.toContain(ids["final_v2.docx"]!);
    expect(JSON.stringify(results)).not.toContain(ids["final.pdf"]!);
  });

  it("lists only the copies a user may read, never the one hidden from them", async () => {
    const { results } = await search(exports, "zephyr turbine maintenance bearings");
    const hits = results.filter((r) => ["final_v2.docx", "final.pdf"].includes(name(r.source)!));
    expect(hits.length).toBe(1);
    expect(hits[0]!.copies).toHaveLength(1);
    expect([name(hits[0]!.source), name(hits[0]!.copies[0].source)].sort()).toEqual(["final.pdf", "final_v2.docx"]);
    expect(JSON.stringify(results)).not.toContain(ids["final.docx"]!);
    expect(JSON.stringify(results)).not.toContain("final.docx");
  });

  it("does not collapse distinct documents that share a paragraph", async () => {
    const { results } = await search(all, "heliotrope safety checklist supervisor");
    const names = results.map((r) => name(r.source));
    expect(names).toContain("restarts.docx");
    expect(names).toContain("induction.docx");
    // (The report matches "safety" and "supervisor" too, and rightly lists its copies.)
    for (const r of results.filter((x) => ["restarts.docx", "induction.docx"].includes(name(x.source)!))) expect(r).not.toHaveProperty("copies");
  });

  it("keeps look-alike PDFs of two organisations as two hits, and folds the true copy of one", async () => {
    const { results } = await search(all, "cobalt warehouse inventory bonded store audit");
    const audits = results.filter((r) => name(r.source)!.startsWith("audit-"));
    const listed = audits.flatMap((r) => [name(r.source), ...(r.copies ?? []).map((c: any) => name(c.source))]).sort();
    expect(listed).toEqual(["audit-north-final.pdf", "audit-north.pdf", "audit-south.pdf"]);
    expect(audits).toHaveLength(2);
    const south = audits.find((r) => name(r.source) === "audit-south.pdf")!;
    expect(south).not.toHaveProperty("copies");
    const north = audits.find((r) => name(r.source) !== "audit-south.pdf")!;
    expect(north.copies.map((c: any) => name(c.source))).toEqual([name(north.source) === "audit-north.pdf" ? "audit-north-final.pdf" : "audit-north.pdf"]);
  });

  it("gives the ask path one copy of the report as its sources", async () => {
    const res = await t.fetchAs(all, "/api/v1/ask", json({ question: "Was the zephyr turbine maintenance programme completed?", stream: true }));
    expect(res.status).toBe(200);
    const events = await readSse(res);
    const sources = events.find((e) => e.event === "sources")!.data.sources as Array<{ documentId: string }>;
    const copyIds = new Set([ids["final.docx"], ids["final_v2.docx"], ids["final.pdf"]]);
    const reportDocs = new Set(sources.map((s) => s.documentId).filter((d) => copyIds.has(d)));
    expect(reportDocs.size).toBe(1);
  });
});
