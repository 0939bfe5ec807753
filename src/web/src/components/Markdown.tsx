/**
 * Model output and document text as sanitized Markdown: raw HTML is dropped (skipHtml) and the
 * tree is sanitized (rehype-sanitize); images render as their alt text only (no image is ever
 * fetched from model output or a document: that would be an exfiltration channel); links are
 * text with their address shown, except the answer's own `[n]` citations, which open the
 * cited page inside the app.
 */
import type { ReactNode } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import rehypeSanitize from "rehype-sanitize";
import { Link } from "react-router";
import { linkCitations } from "../lib/text";

export interface CitationTarget {
  n: number;
  title: string;
  href: string;
}

export function Markdown({ text, citations = [] }: { text: string; citations?: CitationTarget[] }) {
  const byN = new Map(citations.map((c) => [c.n, c]));
  const components: Components = {
    img: ({ alt }) => (alt ? <span className="kb-img-alt">[{alt}]</span> : null),
    a: ({ href, children }) => {
      const m = /^#cite-(\d+)$/.exec(href ?? "");
      const target = m ? byN.get(Number(m[1])) : undefined;
      if (target) {
        return (
          <Link to={target.href} className="kb-cite" aria-label={`[${target.n}] ${target.title}`}>
            {children}
          </Link>
        );
      }
      return <LinkAsText href={href}>{children}</LinkAsText>;
    },
  };
  return (
    <div className="kb-markdown">
      <ReactMarkdown skipHtml rehypePlugins={[rehypeSanitize]} components={components}>
        {linkCitations(text, new Set(byN.keys()))}
      </ReactMarkdown>
    </div>
  );
}

function LinkAsText({ href, children }: { href?: string; children?: ReactNode }) {
  return (
    <span className="kb-link-text">
      {children}
      {href && href !== String(children) ? ` <${href}>` : null}
    </span>
  );
}
