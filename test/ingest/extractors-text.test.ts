/** Text, Markdown and HTML extractors (PDF has its own file). */
import { readFileSync } from "node:fs";
import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import { extractHtmlText, htmlExtractor, sniffHtmlCharset } from "../../ingest/extractors/html.ts";
import { extractMarkdownText, markdownExtractor, stripInlineMarkdown } from "../../ingest/extractors/markdown.ts";
import { extractPlainText, textExtractor, textToBlocks } from "../../ingest/extractors/text.ts";
import type { Block, ExtractedDocument } from "../../ingest/types.ts";
import { bytesOf, haveShared, sharedPath } from "./fixtures.ts";

const blocksOf = (doc: ExtractedDocument): Block[] => doc.pages.flatMap((p) => p.blocks);
const allText = (doc: ExtractedDocument) => blocksOf(doc).map((b) => b.text).join("\n");

describe("text extractor", () => {
  it("splits blocks at blank lines and recognises list runs", () => {
    const blocks = textToBlocks("첫 문단입니다.\n둘째 줄.\n\n중요한 점:\n\n   - 하나\n   - 둘\n     이어지는 줄\n1. 첫째\n2) 둘째\n끝 문장.");
    expect(blocks).toEqual([
      { kind: "paragraph", text: "첫 문단입니다.\n둘째 줄." },
      { kind: "paragraph", text: "중요한 점:" },
      { kind: "list", text: "   - 하나\n   - 둘\n     이어지는 줄\n1. 첫째\n2) 둘째" },
      { kind: "paragraph", text: "끝 문장." },
    ]);
  });

  it("uses form feeds as page breaks and the file name as title", () => {
    const doc = extractPlainText("page one\r\n\fpage two\n\f\fpage four", "/uploads/휴가 규정.txt");
    expect(doc.title).toBe("휴가 규정");
    expect(doc.pages.map((p) => p.page)).toEqual([1, 2, 4]);
    expect(doc.mime).toBe("text/plain");
  });

  it("takes a short first line as title when the file name is generic", () => {
    expect(extractPlainText("연차 휴가 안내\n\n연차는 15일입니다.", "새 텍스트 문서.txt").title).toBe("연차 휴가 안내");
    expect(extractPlainText("This is a sentence.\n\nMore.", "untitled.txt").title).toBe("untitled");
    expect(extractPlainText("Title\n\nBody", "C:\\docs\\report-2024.txt").title).toBe("report-2024");
  });

  it("decodes bytes in legacy encodings", async () => {
    const doc = await textExtractor.extract({ source: "a.txt", bytes: new Uint8Array(iconv.encode("한글 문서입니다.", "cp949")) }, { mime: "text/plain", kind: "text" }, {});
    expect(allText(doc)).toBe("한글 문서입니다.");
  });
});

describe("markdown extractor", () => {
  const md = [
    "---",
    'title: "휴가 규정"',
    "author: 인사팀",
    "---",
    "",
    "# 총칙",
    "",
    "이 규정은 **모든** 직원에게 적용됩니다. [자세히](https://example.com/a_(b)) 보기.",
    "두 번째 줄은 같은 문단입니다.",
    "",
    "연차",
    "----",
    "",
    "- 입사 1년 후 `15일`",
    "  - 2년마다 1일 추가",
    "- 최대 25일",
    "",
    "1. 신청",
    "2. 승인",
    "",
    "| 구분 | 일수 |",
    "|:---|---:|",
    "| 연차 | 15 |",
    "| 병가 | 60 |",
    "",
    "```ts",
    "const days = 15;",
    "",
    "  indented();",
    "```",
    "",
    "> 인용문 **강조**",
    "> 이어짐",
    "",
    "***",
    "",
    "![그림 설명](img.png) <br> <span>끝</span>",
    "",
    "[ref]: https://example.com",
    "<!-- hidden",
    "comment -->",
    "Setext One",
    "==========",
  ].join("\n");
  const doc = extractMarkdownText(md, "rules.md");
  const blocks = blocksOf(doc);

  it("takes the title from front matter", () => expect(doc.title).toBe("휴가 규정"));

  it("parses headings, paragraphs, lists, tables, code and quotes", () => {
    expect(blocks).toEqual([
      { kind: "heading", level: 1, text: "총칙" },
      { kind: "paragraph", text: "이 규정은 모든 직원에게 적용됩니다. 자세히 보기. 두 번째 줄은 같은 문단입니다." },
      { kind: "heading", level: 2, text: "연차" },
      { kind: "list", text: "- 입사 1년 후 15일\n  - 2년마다 1일 추가\n- 최대 25일" },
      { kind: "list", text: "1. 신청\n2. 승인" },
      { kind: "table", text: "| 구분 | 일수 |\n|:---|---:|\n| 연차 | 15 |\n| 병가 | 60 |" },
      { kind: "code", text: "const days = 15;\n\n  indented();" },
      { kind: "paragraph", text: "인용문 강조 이어짐" },
      { kind: "paragraph", text: "그림 설명 끝" },
      { kind: "heading", level: 1, text: "Setext One" },
    ]);
  });

  it("falls back to the first H1, then the file name", () => {
    expect(extractMarkdownText("Intro\n\n# Real Title\n\ntext", "x.md").title).toBe("Real Title");
    expect(extractMarkdownText("Setext\n===\n\ntext", "x.md").title).toBe("Setext");
    expect(extractMarkdownText("## only h2\n\ntext", "notes.md").title).toBe("notes");
  });

  it("normalises tables without outer pipes and keeps escaped pipes", () => {
    const d = extractMarkdownText("Item | Price\n--- | ---\nApples \\| pears | 1.99\n", "t.md");
    expect(blocksOf(d)).toEqual([{ kind: "table", text: "| Item | Price |\n|---|---|\n| Apples \\| pears | 1.99 |" }]);
  });

  it("strips inline markup", () => {
    expect(stripInlineMarkdown("**굵게** _기울임_ ~~취소~~ `a*b*c` [링크](http://x \"t\") <https://y.z> \\*별\\*")).toBe("굵게 기울임 취소 a*b*c 링크 https://y.z *별*");
    expect(stripInlineMarkdown("snake_case_name stays")).toBe("snake_case_name stays");
  });

  it("reads bytes through the registry-facing extractor", async () => {
    const d = await markdownExtractor.extract({ source: "a.md", bytes: bytesOf("# 제목\n\n본문") }, { mime: "text/markdown", kind: "markdown" }, {});
    expect(d.title).toBe("제목");
    expect(d.mime).toBe("text/markdown");
  });
});

describe("html extractor", () => {
  const html = `<!DOCTYPE html><html><head><title>  휴가 규정 | 인사팀 </title><style>.x{color:red}</style>
    <script>var secret = "do not index";</script></head>
    <body>
      <header><nav><a href="/">홈</a> <a href="/about">소개</a></nav></header>
      <aside>광고 배너</aside>
      <main>
        <article>
          <header><h1>휴가 규정</h1></header>
          <p>연차는 <b>입사 1년 후</b> 15일이<br>주어집니다.</p>
          <h2>연차 사용</h2>
          <ul><li>신청은 <a href="#">포털</a>에서
            <ul><li>팀장 승인</li><li>인사팀 확인</li></ul></li>
            <li>반차 가능</li></ul>
          <ol><li>첫째</li><li>둘째</li></ol>
          <table><caption>유형별 일수</caption><thead><tr><th>유형</th><th>일수</th></tr></thead>
            <tbody><tr><td>연차</td><td>15</td></tr><tr><td colspan="2">병가 | 별도</td></tr></tbody></table>
          <pre>  code   block
  keeps  spaces</pre>
          <figure><img src="a.png" alt="logo"><figcaption>그림 1. 신청 화면</figcaption></figure>
          <form><input value="검색"><button>전송</button></form>
          <noscript>자바스크립트를 켜세요</noscript>
        </article>
      </main>
      <footer>© 2024 회사</footer>
    </body></html>`;
  const doc = extractHtmlText(html, "page.html");
  const blocks = blocksOf(doc);

  it("takes <title> as title", () => expect(doc.title).toBe("휴가 규정 | 인사팀"));

  it("keeps main content in structure and drops boilerplate", () => {
    expect(blocks).toEqual([
      { kind: "heading", level: 1, text: "휴가 규정" },
      { kind: "paragraph", text: "연차는 입사 1년 후 15일이\n주어집니다." },
      { kind: "heading", level: 2, text: "연차 사용" },
      { kind: "list", text: "- 신청은 포털에서\n  - 팀장 승인\n  - 인사팀 확인\n- 반차 가능" },
      { kind: "list", text: "1. 첫째\n2. 둘째" },
      { kind: "caption", text: "유형별 일수" },
      { kind: "table", text: "| 유형 | 일수 |\n| --- | --- |\n| 연차 | 15 |\n| 병가 \\| 별도 |  |" },
      { kind: "code", text: "  code   block\n  keeps  spaces" },
      { kind: "caption", text: "그림 1. 신청 화면" },
    ]);
    const text = allText(doc);
    for (const junk of ["secret", "color:red", "홈", "광고", "©", "검색", "전송", "자바스크립트"]) expect(text).not.toContain(junk);
  });

  it("uses the whole body when there is no main/article, dropping page header/footer", () => {
    const d = extractHtmlText("<html><header><p>Header</p></header><body><h1>My First Heading</h1><p>My first paragraph.</p></body><footer><p>Footer</p></footer></html>", "x.html");
    expect(blocksOf(d)).toEqual([
      { kind: "heading", level: 1, text: "My First Heading" },
      { kind: "paragraph", text: "My first paragraph." },
    ]);
    expect(d.title).toBe("My First Heading");
  });

  it("walks layout tables as content and ignores a token <main>", () => {
    const long = "본문 ".repeat(200);
    const d = extractHtmlText(`<body><main>메뉴</main><table><tr><td><h2>제목</h2><p>${long}</p></td><td><table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table></td></tr></table></body>`, "x.html");
    const kinds = blocksOf(d).map((b) => b.kind);
    expect(kinds).toEqual(["paragraph", "heading", "paragraph", "table"]);
  });

  it("reads the declared charset (EUC-KR → CP949)", async () => {
    const page = '<html><head><meta charset="euc-kr"><title>한글 제목</title></head><body><p>한글 본문입니다.</p></body></html>';
    const bytes = new Uint8Array(iconv.encode(page, "euc-kr"));
    expect(sniffHtmlCharset(bytes)).toBe("euc-kr");
    const d = await htmlExtractor.extract({ source: "a.html", bytes }, { mime: "text/html", kind: "html" }, {});
    expect(d.title).toBe("한글 제목");
    expect(allText(d)).toBe("한글 본문입니다.");
  });

  it("treats <br><br> as a paragraph break", () => {
    const d = extractHtmlText("<body><font>첫 문단.<br />\n<br>둘째 문단<br>같은 문단의 둘째 줄.<br><br><br>셋째.</font></body>", "x.html");
    expect(blocksOf(d)).toEqual([
      { kind: "paragraph", text: "첫 문단." },
      { kind: "paragraph", text: "둘째 문단\n같은 문단의 둘째 줄." },
      { kind: "paragraph", text: "셋째." },
    ]);
  });

  it("rejects file-name-like titles", () => {
    expect(extractHtmlText("<title>glxz-10k_20211231.htm</title><p>x</p>", "report.html").title).toBe("report");
  });
});

const U = sharedPath("multiformat_unstructured");
const K = sharedPath("multiformat_korean");
describe.skipIf(!haveShared(U, "HTML/Markdown samples") || !haveShared(K, "Korean samples"))("shared data: real HTML / Markdown / text", () => {
  const read = (p: string) => new Uint8Array(readFileSync(p));
  it("example-with-scripts.html: no script or style text", async () => {
    const d = await htmlExtractor.extract({ source: "x.html", bytes: read(`${U}/example-with-scripts.html`) }, { mime: "text/html", kind: "html" }, {});
    const text = allText(d);
    expect(text.length).toBeGreaterThan(1000);
    expect(text).not.toMatch(/function\s*\(|window\.|document\.getElementById|\{\s*[a-z-]+\s*:/);
    expect(d.title).toContain("Russian Offensive Campaign Assessment");
  });
  it("fake-html-cp1252.html: windows-1252 characters", async () => {
    const d = await htmlExtractor.extract({ source: "x.html", bytes: read(`${U}/fake-html-cp1252.html`) }, { mime: "text/html", kind: "html" }, {});
    expect(allText(d)).toContain("schöne");
    expect(allText(d)).toContain("€");
  });
  it("example-steelJIS-datasheet-utf-16.html equals its UTF-8 twin", async () => {
    const a = await htmlExtractor.extract({ source: "a.html", bytes: read(`${U}/example-steelJIS-datasheet-utf-16.html`) }, { mime: "text/html", kind: "html" }, {});
    const b = await htmlExtractor.extract({ source: "b.html", bytes: read(`${U}/example-steelJIS-datasheet.html`) }, { mime: "text/html", kind: "html" }, {});
    expect(blocksOf(a)).toEqual(blocksOf(b));
    expect(blocksOf(a).some((x) => x.kind === "table")).toBe(true);
  });
  it("client.html (Korean) keeps Hangul content", async () => {
    const d = await htmlExtractor.extract({ source: "client.html", bytes: read(`${K}/client.html`) }, { mime: "text/html", kind: "html" }, {});
    expect((allText(d).match(/[가-힣]/g) ?? []).length).toBeGreaterThan(100);
  });
  it("README.md: headings, list and code", async () => {
    const d = await markdownExtractor.extract({ source: "README.md", bytes: read(`${U}/README.md`) }, { mime: "text/markdown", kind: "markdown" }, {});
    const kinds = new Set(blocksOf(d).map((b) => b.kind));
    expect([...kinds].sort()).toEqual(["code", "heading", "list", "paragraph"]);
  });
});
