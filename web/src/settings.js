// The settings dialog: the conversation's system prompt, the sampling settings, extra request
// fields and the API key. It is built when opened and removed when closed, so that the message
// box stays the page's only textarea the rest of the time.
import { h } from './dom.js';

const SAMPLING_FIELDS = [
  { name: 'temperature', label: 'Temperature', step: '0.05', min: '0', hint: '0: always the likeliest token' },
  { name: 'top_p', label: 'Top P', step: '0.01', min: '0', max: '1' },
  { name: 'top_k', label: 'Top K', step: '1', min: '0' },
  { name: 'min_p', label: 'Min P', step: '0.01', min: '0', max: '1' },
  { name: 'repeat_penalty', label: 'Repeat penalty', step: '0.05', min: '0' },
  { name: 'max_tokens', label: 'Max tokens', step: '1', min: '1' },
  { name: 'seed', label: 'Seed', step: '1' },
];

// The sampling settings as request fields: numbers, the empty ones left out.
export function samplingFields(sampling) {
  const out = {};
  for (const { name } of SAMPLING_FIELDS) {
    const text = String(sampling?.[name] ?? '').trim();
    if (text !== '') out[name] = Number(text);
  }
  return out;
}

// The extra request fields as an object; throws a message when the text is not one.
export function parseExtraFields(text) {
  if (!text.trim()) return {};
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`Extra request fields: not JSON (${error.message})`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('Extra request fields: must be a JSON object, like {"stop": ["\\n\\n"]}');
  }
  return value;
}

// Opens the dialog; `save` gets { system, sampling, extra, apiKey } when the user saves.
export function openSettings({ system, sampling, extra, apiKey, save }) {
  const systemBox = h('textarea', { id: 'settings-system', rows: 4, placeholder: 'You are a helpful assistant.' });
  systemBox.value = system;
  const inputs = {};
  const grid = h('div', { class: 'sampling-grid' }, SAMPLING_FIELDS.map((field) => {
    const input = h('input', {
      type: 'number', id: `settings-${field.name}`, name: field.name, step: field.step,
      min: field.min, max: field.max, placeholder: 'default', title: field.hint,
    });
    input.value = sampling[field.name] ?? '';
    inputs[field.name] = input;
    return h('label', {}, field.label, input);
  }));
  const extraBox = h('textarea', {
    id: 'settings-extra', rows: 3, spellcheck: 'false',
    placeholder: '{"stop": ["\\n\\n"], "presence_penalty": 0.5}',
  });
  extraBox.value = extra;
  const keyInput = h('input', { type: 'password', id: 'settings-key', autocomplete: 'off', spellcheck: 'false', placeholder: 'none' });
  keyInput.value = apiKey;
  const problem = h('p', { class: 'error', role: 'alert', hidden: true });

  const dialog = h('dialog', { id: 'settings', 'aria-labelledby': 'settings-title' },
    h('h2', { id: 'settings-title' }, 'Settings'),
    h('label', { class: 'wide' }, 'System prompt (this conversation, and new ones)', systemBox),
    h('fieldset', {}, h('legend', {}, 'Sampling (empty: the model\'s default)'), grid),
    h('label', { class: 'wide' }, 'Extra request fields (JSON object, sent with every message)', extraBox),
    h('label', { class: 'wide' }, 'API key (when the server was started with CRIA_API_KEY)', keyInput),
    problem,
    h('div', { class: 'dialog-actions' },
      h('button', { type: 'button', id: 'settings-cancel', onclick: () => dismiss() }, 'Cancel'),
      h('button', {
        type: 'button', id: 'settings-save', class: 'primary',
        onclick: () => {
          try {
            parseExtraFields(extraBox.value);
          } catch (error) {
            problem.textContent = error.message;
            problem.hidden = false;
            return;
          }
          const values = {};
          for (const [name, input] of Object.entries(inputs)) values[name] = input.value.trim();
          save({ system: systemBox.value, sampling: values, extra: extraBox.value, apiKey: keyInput.value.trim() });
          dismiss();
        },
      }, 'Save')));
  // Removed at once rather than from the 'close' event, which comes a task later: until then
  // its textareas would still be in the document. Escape closes it natively: that path removes
  // it from the event.
  const dismiss = () => {
    dialog.close();
    dialog.remove();
  };
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  systemBox.focus();
}
