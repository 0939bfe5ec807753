/**
 * The "filings" variant of the look-alike set (bench/lookalike/build.ts, `--variant filings`): what
 * makes its documents read like real long filings rather than short four-page reports.
 *
 * Real filings (DART 분기보고서/사업보고서, 10-K/10-Q, audit reports, board minutes) differ from
 * the v1 set in three ways that matter for finding the named document:
 * - page 1 is not a short cover: besides the identifying lines (organisation, report type and
 *   period, document number, date) it carries the registered address and telephone, a table of
 *   contents, and a legal notice (forward-looking statements, distribution limits, disclaimers),
 *   so the naming words are a small part of the first page;
 * - documents are long (here 8–12 pages), and their pages hold, besides the content that answers,
 *   the text every filing has: section headings from a fixed outline (the DART chapter titles, the
 *   10-K items), introductory boilerplate that mentions "this quarterly report"/"본 분기보고서",
 *   financial tables whose columns are the current and the prior year, risk factors and
 *   accounting-policy notes;
 * - that boilerplate is the same across companies and years (it comes from the same regulation
 *   and the same templates), so it matches a question's report-type and year words in every
 *   look-alike.
 * As in v1 the organisation's name stands on the cover only ("the Company", "당사" elsewhere):
 * real filings name the company in running headers and on the signature page now and then, which
 * this set leaves out so that the cover stays the only place that tells look-alikes apart.
 *
 * All text here is written for this bench (generic, no real company); choices are seeded.
 */
import type { Lang } from "./build.ts";

const pick = <T>(items: readonly T[], rand: () => number): T => items[Math.floor(rand() * items.length)]!;

/** The legal notice on the cover: several generic variants a language, picked by seed. */
const NOTICES: Record<Lang, { title: string; text: string }[]> = {
  en: [
    {
      title: "CAUTIONARY NOTE REGARDING FORWARD-LOOKING STATEMENTS",
      text:
        "This {type} contains forward-looking statements within the meaning of applicable securities laws. Words such as anticipate, believe, estimate, expect, intend, plan, project, may, will and similar expressions identify forward-looking statements. These statements reflect the current views of management with respect to future events and are subject to risks, uncertainties and assumptions, including changes in general economic conditions, interest and exchange rates, competition, regulation and the availability of financing. Actual results may differ materially from those expressed or implied. The Company undertakes no obligation to update or revise any forward-looking statement, whether as a result of new information, future events or otherwise, except as required by law. Readers are cautioned not to place undue reliance on these statements, which speak only as of the date of this {type}.",
    },
    {
      title: "IMPORTANT NOTICE",
      text:
        "This {type} has been prepared solely for the information of shareholders, creditors and the supervisory authorities and may not be reproduced, distributed or published, in whole or in part, without the prior written consent of the Company. The financial information included herein has been prepared in accordance with the applicable accounting standards and, unless otherwise stated, has not been audited or reviewed by the independent auditors. Figures are rounded and totals may therefore not add up. Nothing in this {type} constitutes an offer to sell or a solicitation of an offer to buy any securities in any jurisdiction. The Company, its directors, officers and employees accept no liability for any loss arising from the use of this document or its contents.",
    },
    {
      title: "DISCLAIMER AND BASIS OF PREPARATION",
      text:
        "The information in this {type} is given as of the date indicated on the cover and is subject to change without notice. Certain statements relate to future plans, market conditions and expected performance and involve known and unknown risks and uncertainties that may cause actual results to differ. Comparative figures for the prior period have been reclassified where necessary to conform to the current presentation. Segment information is presented on the same basis as the internal reports reviewed by the chief operating decision maker. This document should be read together with the notes to the financial statements and the other reports filed by the Company with the regulator, which are available on request from the investor relations department.",
    },
  ],
  ko: [
    {
      title: "예측정보에 대한 주의사항",
      text:
        "본 {type}에 포함된 정보 중 일부는 과거가 아닌 미래의 사건과 관계된 예측정보로서, 당사의 향후 예상되는 경영현황 및 재무실적을 의미하며 표현상으로는 예상, 전망, 계획, 기대 등과 같은 단어를 포함합니다. 위 예측정보는 향후 경영환경의 변화 등에 따라 영향을 받으며, 본질적으로 불확실성을 내포하고 있는 바, 이러한 불확실성으로 인하여 실제 미래 실적은 예측정보에 명시적 또는 묵시적으로 포함된 내용과 중대한 차이가 있을 수 있습니다. 또한 향후 전망은 본 보고서 작성시점을 기준으로 작성한 것이고 현재 시점에서 파악하지 못한 위험 요인으로 인하여 변경될 수 있으며, 당사는 이에 대한 수정 보고서를 작성할 의무가 없습니다.",
    },
    {
      title: "투자자 유의사항",
      text:
        "본 {type}는 관련 법령 및 공시 규정에 따라 작성되었으며, 기재된 재무정보는 한국채택국제회계기준에 따라 작성된 연결 및 별도 재무제표를 기준으로 합니다. 별도의 언급이 없는 한 본 보고서의 재무정보는 외부감사인의 검토 또는 감사를 받지 않은 수치로서 감사 결과에 따라 변경될 수 있습니다. 금액은 단위 미만에서 반올림하였으므로 합계가 일치하지 않을 수 있습니다. 본 자료는 투자 권유를 목적으로 작성된 것이 아니며, 어떠한 경우에도 본 자료가 투자 결과에 대한 법적 책임 소재의 증빙자료로 사용될 수 없습니다.",
    },
    {
      title: "문서 취급 및 보안 안내",
      text:
        "본 {type}는 당사의 영업비밀 및 내부 정보를 포함하고 있으므로 사전 승인 없이 외부에 제공하거나 복제, 배포할 수 없습니다. 본 문서의 열람 권한은 관련 부서 및 이사회 구성원에 한정되며, 열람자는 정보보호 규정에 따라 문서를 관리하여야 합니다. 본 문서에 기재된 수치 및 전망은 작성일 현재의 자료를 기준으로 하며 이후 변동될 수 있습니다. 문서의 내용에 관한 문의는 경영지원본부 공시 담당자에게 하시기 바랍니다. 보존 기간이 경과한 문서는 문서관리 규정에 따라 폐기합니다.",
    },
  ],
};

const ADDRESSES: Record<Lang, string[]> = {
  en: [
    "Registered office: 41 Harbour Road, Suite 1200",
    "Registered office: 8 Kingsway Plaza, 15th Floor",
    "Principal executive offices: 220 Riverside Avenue",
    "Head office: 3 Commerce Square, Tower B",
  ],
  ko: ["본점 소재지: 서울특별시 중구 세종대로 100", "본점 소재지: 경기도 성남시 분당구 판교로 255", "본사 주소: 부산광역시 해운대구 센텀중앙로 79", "본사 주소: 서울특별시 영등포구 여의대로 24"],
};

/** Section outlines: the DART chapter titles and the 10-K items; minutes have an agenda instead. */
const OUTLINES: Record<Lang, { report: string[]; minutes: string[] }> = {
  en: {
    report: [
      "Business",
      "Properties",
      "Legal proceedings",
      "Management's discussion and analysis",
      "Market risk disclosures",
      "Financial statements",
      "Controls and procedures",
      "Corporate governance",
      "Executive compensation",
      "Related party transactions",
      "Exhibits",
    ],
    minutes: [
      "Call to order and quorum",
      "Approval of previous minutes",
      "Report of the chief executive",
      "Report of the audit committee",
      "Financial results",
      "Capital expenditure proposals",
      "Risk and compliance",
      "Appointments",
      "Remuneration",
      "Any other business",
      "Resolutions",
      "Close of meeting",
    ],
  },
  ko: {
    report: [
      "회사의 개요",
      "사업의 내용",
      "재무에 관한 사항",
      "이사의 경영진단 및 분석의견",
      "회계감사인의 감사의견 등",
      "이사회 등 회사의 기관에 관한 사항",
      "임원 및 직원 등에 관한 사항",
      "계열회사 등에 관한 사항",
      "대주주 등과의 거래내용",
      "그 밖에 투자자 보호를 위하여 필요한 사항",
      "상세표",
      "전문가의 확인",
    ],
    minutes: [
      "개회 및 성원 보고",
      "전차 회의록 승인",
      "대표이사 경영 현황 보고",
      "감사위원회 보고",
      "결산 실적 보고",
      "투자 집행 안건",
      "위험관리 및 준법 점검",
      "임원 선임 안건",
      "보수 관련 안건",
      "기타 안건",
      "의결 사항",
      "폐회",
    ],
  },
};

/** A sentence or two that opens a section in every filing of this kind. */
const INTROS: Record<Lang, string[]> = {
  en: [
    "The following discussion should be read in conjunction with the financial statements and the related notes included elsewhere in this {type}.",
    "This section describes matters that management considers relevant to an understanding of the Company's operations during the period covered by this {type}.",
    "Except where otherwise indicated, the information in this section is presented as of the end of the reporting period and on a consolidated basis.",
    "The Company has summarised below the information required for this section; further detail is available in the notes and exhibits to this {type}.",
    "Amounts in this section are stated in millions unless otherwise indicated, and comparative information for the prior period is presented where relevant.",
    "The description below is based on information available to management at the date of this {type} and may be updated in subsequent reports.",
  ],
  ko: [
    "본 항목은 본 {type}에 포함된 재무제표 및 주석과 함께 읽어야 합니다.",
    "아래 내용은 보고기간 동안 당사의 영업 현황을 이해하는 데 필요하다고 판단되는 사항을 기재한 것입니다.",
    "별도의 언급이 없는 한 본 항목의 정보는 보고기간 종료일 현재 연결 기준으로 작성되었습니다.",
    "본 항목에서 요구하는 사항을 아래와 같이 요약하였으며, 상세 내용은 본 {type}의 주석 및 첨부 서류를 참조하시기 바랍니다.",
    "본 항목의 금액은 별도의 표시가 없는 한 백만원 단위이며, 비교 목적으로 전기 정보를 함께 기재하였습니다.",
    "아래 기재 내용은 본 {type} 작성일 현재 경영진이 입수한 정보에 근거한 것으로 향후 보고서에서 변경될 수 있습니다.",
  ],
};

/** Pages that hold no answering paragraph: every filing has them. */
const RISKS: Record<Lang, string[]> = {
  en: [
    "The Company's results depend on general economic conditions in the markets in which it operates. A slowdown in economic growth, higher inflation or a decline in consumer confidence could reduce demand for the Company's products and services and adversely affect its revenue and margins.",
    "The Company is exposed to fluctuations in foreign exchange rates, as a portion of its revenue and costs is denominated in currencies other than the functional currency. Hedging arrangements may not fully offset these effects.",
    "Changes in laws and regulations, including tax, environmental and data protection rules, could increase the Company's compliance costs, require changes to its business practices or expose it to fines and litigation.",
    "The Company relies on information technology systems to manage its operations. Disruptions, security breaches or failures of these systems could interrupt operations, damage its reputation and result in liability.",
    "The Company's ability to fund its operations and investments depends on access to credit markets on acceptable terms. Higher interest rates or tighter lending conditions could increase financing costs.",
  ],
  ko: [
    "당사의 실적은 영업을 영위하는 시장의 전반적인 경기 상황에 영향을 받습니다. 경제성장률 둔화, 물가 상승 또는 소비심리 위축은 당사 제품 및 서비스에 대한 수요를 감소시켜 매출과 수익성에 부정적인 영향을 미칠 수 있습니다.",
    "당사는 매출 및 비용의 일부가 외화로 표시되어 환율 변동 위험에 노출되어 있습니다. 당사는 파생상품 등을 통해 위험을 관리하고 있으나 환율 변동의 영향을 완전히 상쇄하지 못할 수 있습니다.",
    "세법, 환경 규제, 개인정보 보호 규정 등 관련 법령의 변경은 당사의 준법 비용을 증가시키거나 영업 방식의 변경을 요구할 수 있으며, 위반 시 과징금 및 소송 위험이 발생할 수 있습니다.",
    "당사는 영업 관리를 위하여 정보기술 시스템에 의존하고 있습니다. 시스템 장애, 보안 사고 등은 영업을 중단시키고 당사의 평판을 훼손하며 법적 책임을 발생시킬 수 있습니다.",
    "당사의 운영 및 투자 자금 조달 능력은 적정한 조건으로 금융시장에 접근할 수 있는지에 달려 있습니다. 금리 상승이나 대출 여건 악화는 당사의 금융비용을 증가시킬 수 있습니다.",
  ],
};

const NOTES: Record<Lang, string[]> = {
  en: [
    "Basis of preparation. The financial statements have been prepared on a historical cost basis, except for certain financial instruments measured at fair value. The accounting policies applied are consistent with those of the previous financial year, except for the adoption of new standards effective for the current period, which had no material effect.",
    "Revenue recognition. Revenue is recognised when control of goods or services is transferred to the customer at an amount that reflects the consideration to which the Company expects to be entitled. Variable consideration is included only to the extent that a significant reversal is not highly probable.",
    "Property, plant and equipment. Items are stated at cost less accumulated depreciation and impairment losses. Depreciation is calculated on a straight-line basis over the estimated useful lives of the assets, which are reviewed at the end of each reporting period.",
    "Provisions and contingencies. A provision is recognised when the Company has a present obligation as a result of a past event, it is probable that an outflow of resources will be required, and the amount can be estimated reliably.",
  ],
  ko: [
    "재무제표 작성기준. 당사의 재무제표는 공정가치로 측정되는 일부 금융상품을 제외하고는 역사적 원가를 기준으로 작성되었습니다. 당기에 적용한 회계정책은 당기부터 시행되는 기준서의 적용을 제외하고는 전기와 동일하며, 새로운 기준서의 적용이 재무제표에 미치는 중요한 영향은 없습니다.",
    "수익인식. 당사는 재화나 용역에 대한 통제가 고객에게 이전되는 시점에 받을 권리를 갖게 될 것으로 예상하는 대가를 반영한 금액으로 수익을 인식합니다. 변동대가는 유의적인 환원이 발생하지 않을 가능성이 매우 높은 정도까지만 거래가격에 포함합니다.",
    "유형자산. 유형자산은 원가에서 감가상각누계액과 손상차손누계액을 차감한 금액으로 표시합니다. 감가상각은 추정 내용연수에 걸쳐 정액법으로 계산하며, 내용연수는 매 보고기간 말에 재검토합니다.",
    "충당부채와 우발부채. 과거 사건의 결과로 현재의무가 존재하고, 의무를 이행하기 위하여 자원이 유출될 가능성이 높으며, 금액을 신뢰성 있게 추정할 수 있는 경우 충당부채를 인식합니다.",
  ],
};

const TABLE_ROWS: Record<Lang, string[]> = {
  en: ["Revenue", "Cost of sales", "Gross profit", "Operating expenses", "Operating income", "Finance costs, net", "Profit before tax", "Income tax expense", "Net income", "Total assets", "Total liabilities", "Total equity"],
  ko: ["매출액", "매출원가", "매출총이익", "판매비와관리비", "영업이익", "금융손익", "법인세비용차감전순이익", "법인세비용", "당기순이익", "자산총계", "부채총계", "자본총계"],
};

const fill = (text: string, type: string) => text.replaceAll("{type}", type);

export function coverAddress(lang: Lang, rand: () => number): string[] {
  const phone = `${String(1000 + Math.floor(rand() * 9000))}-${String(1000 + Math.floor(rand() * 9000))}`;
  return lang === "ko" ? [pick(ADDRESSES.ko, rand), `대표 전화: 02-${phone}`] : [pick(ADDRESSES.en, rand), `Telephone: +82 2 ${phone.replace("-", " ")}`];
}

export function coverNotice(lang: Lang, type: string, rand: () => number): { title: string; text: string } {
  const n = pick(NOTICES[lang], rand);
  return { title: n.title, text: fill(n.text, type) };
}

/** The table of contents: one line per section with its page. */
export function tableOfContents(lang: Lang, sections: { title: string; page: number }[]): string[] {
  return [lang === "ko" ? "목 차" : "TABLE OF CONTENTS", ...sections.map((s, i) => `${sectionHeading(lang, i, s.title)} ..... ${s.page}`)];
}

const ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV"];

/** "III. 재무에 관한 사항" / "Item 3. Properties": the i-th section's heading (0-based). */
export function sectionHeading(lang: Lang, i: number, title: string): string {
  return lang === "ko" ? `${ROMAN[i]}. ${title}` : `Item ${i + 1}. ${title}`;
}

export function sectionTitles(lang: Lang, minutes: boolean): string[] {
  return OUTLINES[lang][minutes ? "minutes" : "report"];
}

export function sectionIntro(lang: Lang, type: string, rand: () => number): string {
  return fill(pick(INTROS[lang], rand), type);
}

export type FillerKind = "table" | "risks" | "notes" | "shareholders";
/** At most one page of each kind a document (a filing has up to 4 pages without an answering paragraph). */
export const FILLER_KINDS: readonly FillerKind[] = ["table", "risks", "notes", "shareholders"];

export function fillerTitle(lang: Lang, kind: FillerKind): string {
  const titles: Record<FillerKind, [string, string]> = {
    table: ["요약재무정보", "Selected financial data"],
    risks: ["위험 요인", "Risk factors"],
    notes: ["주요 회계정책", "Significant accounting policies"],
    shareholders: ["주주 현황", "Security ownership of principal shareholders"],
  };
  return titles[kind][lang === "ko" ? 0 : 1];
}

/**
 * A page without an answering paragraph: a financial table (the current and the prior year as
 * columns, seeded figures), risk factors or accounting-policy notes. Returns paragraphs (wrapped by
 * the caller) and preformatted lines.
 */
export function fillerBody(lang: Lang, kind: FillerKind, year: number, rand: () => number): { paragraphs: string[]; lines: string[] } {
  const shuffled = <T>(a: readonly T[]) => [...a].map((x) => [rand(), x] as const).sort((p, q) => p[0] - q[0]).map((p) => p[1]);
  if (kind === "risks") return { paragraphs: shuffled(RISKS[lang]).slice(0, 3), lines: [] };
  if (kind === "notes") return { paragraphs: shuffled(NOTES[lang]).slice(0, 3), lines: [] };
  if (kind === "shareholders") {
    const largest = 20 + Math.floor(rand() * 30);
    const pension = 5 + Math.floor(rand() * 6);
    const treasury = 1 + Math.floor(rand() * 4);
    const rows: [string, string][] = lang === "ko"
      ? [["최대주주 및 특수관계인", `${largest}.${Math.floor(rand() * 10)}%`], ["국민연금공단", `${pension}.${Math.floor(rand() * 10)}%`], ["자기주식", `${treasury}.${Math.floor(rand() * 10)}%`], ["소액주주", `${100 - largest - pension - treasury - 1}.${Math.floor(rand() * 10)}%`]]
      : [["Largest shareholder and related parties", `${largest}.${Math.floor(rand() * 10)}%`], ["National Pension Service", `${pension}.${Math.floor(rand() * 10)}%`], ["Treasury shares", `${treasury}.${Math.floor(rand() * 10)}%`], ["Minority shareholders", `${100 - largest - pension - treasury - 1}.${Math.floor(rand() * 10)}%`]];
    const head = lang === "ko" ? `보고기간 종료일 현재 (${year}년) 보통주 기준` : `As of the end of the reporting period (${year}), ordinary shares`;
    return { paragraphs: [], lines: [head, ...rows.map(([who, share]) => `${who} | ${share}`)] };
  }
  const unit = lang === "ko" ? "(단위: 백만원)" : "(in millions of KRW)";
  const head = lang === "ko" ? `구분 | 제${year - 1990}기 (${year}년) | 제${year - 1991}기 (${year - 1}년)` : `Item | ${year} | ${year - 1}`;
  const money = () => Math.floor(1000 + rand() * 90000).toLocaleString("en-US");
  return { paragraphs: [], lines: [unit, head, ...TABLE_ROWS[lang].map((r) => `${r} | ${money()} | ${money()}`)] };
}
