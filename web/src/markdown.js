// Markdown of a model's answer as DOM nodes that cannot run script: marked turns the text into
// HTML, DOMPurify removes everything executable from it (script, event handlers, javascript:
// URLs), and only then does it become nodes. Raw HTML that a model writes is shown as text, as
// it was written, and images become links, so that an answer never loads anything by itself.
import DOMPurify from 'dompurify';
import { Marked } from 'marked';
import { copyButton, h } from './dom.js';

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const marked = new Marked({
  gfm: true,
  async: false,
  renderer: {
    html({ text }) {
      return escapeHtml(text);
    },
    image({ href, text }) {
      const label = text || href;
      return `<a href="${escapeHtml(href)}">${escapeHtml(label)}</a>`;
    },
  },
});

const purify = DOMPurify(window);
// Links leave the page in a new tab, telling the target nothing about it.
purify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

const PURIFY_OPTIONS = {
  RETURN_DOM_FRAGMENT: true,
  // No controls (an answer must not look like the page's own), no media, no styles.
  FORBID_TAGS: ['style', 'form', 'button', 'textarea', 'select', 'option', 'img', 'picture',
    'video', 'audio', 'source', 'iframe', 'object', 'embed', 'svg', 'math'],
  FORBID_ATTR: ['style', 'id', 'name'],
};

// The sanitized nodes of `text` rendered as markdown, each code block with a copy button.
export function renderMarkdown(text) {
  const html = marked.parse(text);
  const fragment = purify.sanitize(html, PURIFY_OPTIONS);
  for (const pre of [...fragment.querySelectorAll('pre')]) {
    const code = pre.querySelector('code');
    const language = [...(code?.classList ?? [])]
      .find((name) => name.startsWith('language-'))?.slice('language-'.length);
    const block = h('div', { class: 'code-block' },
      h('div', { class: 'code-head' },
        h('span', { class: 'code-language' }, language || 'code'),
        copyButton('Copy', () => (code ?? pre).textContent, { 'aria-label': 'Copy code' })));
    pre.replaceWith(block);
    block.append(pre);
  }
  return fragment;
}
