// What the page keeps in the browser's storage (localStorage, so per server origin): the
// conversations, the settings, the API key and which conversation is open.
//
// A conversation: { id, title, model, system, created, updated, messages }, each message
// { role: 'user', content, images: [data URL] } or { role: 'assistant', content, reasoning,
// model, stats, error, stopped }.

export const CHATS_KEY = 'cria.chats.v1';
const KEYS = {
  chats: CHATS_KEY,
  settings: 'cria.settings.v1',
  apiKey: 'cria.api-key',
  current: 'cria.current-chat',
};

export const DEFAULT_SETTINGS = {
  system: '',
  model: '',
  // Empty: the server's (or the model's Modelfile) default.
  sampling: { temperature: '', top_p: '', top_k: '', min_p: '', repeat_penalty: '', max_tokens: '', seed: '' },
  // Other request fields, as JSON text merged into every request.
  extra: '',
};

function read(key, fallback) {
  try {
    const text = localStorage.getItem(key);
    return text === null ? fallback : JSON.parse(text);
  } catch {
    return fallback;
  }
}

// Throws a message the page can show when the browser refuses (storage full, often because of
// attached images, or storage turned off).
function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch (error) {
    const full = error?.name === 'QuotaExceededError';
    throw new Error(full
      ? "The browser's storage for this page is full, so the latest change was not saved (attached images take the most room: delete some conversations)."
      : `The browser did not save the conversation: ${error?.message ?? error}`);
  }
}

function isMessage(m) {
  return m && (m.role === 'user' || m.role === 'assistant') && typeof m.content === 'string';
}

export function loadChats() {
  const chats = read(KEYS.chats, []);
  if (!Array.isArray(chats)) return [];
  return chats
    .filter((c) => c && typeof c.id === 'string' && Array.isArray(c.messages))
    .map((c) => ({
      id: c.id,
      title: typeof c.title === 'string' && c.title ? c.title : 'New chat',
      model: typeof c.model === 'string' ? c.model : '',
      system: typeof c.system === 'string' ? c.system : '',
      created: Number(c.created) || Date.now(),
      updated: Number(c.updated) || Date.now(),
      messages: c.messages.filter(isMessage),
    }));
}

export function saveChats(chats) {
  write(KEYS.chats, chats);
}

export function loadSettings() {
  const stored = read(KEYS.settings, {});
  return {
    ...DEFAULT_SETTINGS,
    ...(stored && typeof stored === 'object' ? stored : {}),
    sampling: { ...DEFAULT_SETTINGS.sampling, ...(stored?.sampling ?? {}) },
  };
}

export function saveSettings(settings) {
  write(KEYS.settings, settings);
}

export function loadApiKey() {
  return localStorage.getItem(KEYS.apiKey) ?? '';
}

export function saveApiKey(key) {
  if (key) localStorage.setItem(KEYS.apiKey, key);
  else localStorage.removeItem(KEYS.apiKey);
}

export function loadCurrentChat() {
  return localStorage.getItem(KEYS.current) ?? '';
}

export function saveCurrentChat(id) {
  if (id) localStorage.setItem(KEYS.current, id);
  else localStorage.removeItem(KEYS.current);
}
