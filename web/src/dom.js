// Building DOM nodes without HTML strings: text always goes in as text, never as markup.

// h('div', { class: 'x', onclick: fn }, 'text', child, [more children])
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      node.className = value;
    } else if (name === 'dataset') {
      Object.assign(node.dataset, value);
    } else if (value === true) {
      node.setAttribute(name, '');
    } else {
      node.setAttribute(name, String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// Copies text to the clipboard: the Clipboard API where the page is a secure context (loopback
// addresses are), else a selection copied with execCommand (a page opened over plain http on
// another address). Resolves to whether it worked.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Refused (no permission, page not focused): try the selection below.
    }
  }
  const scratch = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
  scratch.value = text;
  document.body.append(scratch);
  scratch.select();
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  scratch.remove();
  return copied;
}

// A button that copies what `text()` returns and says so for a moment.
export function copyButton(label, text, extra = {}) {
  const button = h('button', { type: 'button', class: 'copy', ...extra }, label);
  button.addEventListener('click', async () => {
    const copied = await copyText(text());
    button.textContent = copied ? 'Copied' : 'Copy failed';
    setTimeout(() => { button.textContent = label; }, 1500);
  });
  return button;
}
