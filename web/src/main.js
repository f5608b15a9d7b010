// cria's chat page: conversations kept in the browser, answers streamed from this server's
// /v1/chat/completions, the model picker fed by /v1/models.
import { ApiError, createApi } from './api.js';
import { copyButton, h } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { openSettings, parseExtraFields, samplingFields } from './settings.js';
import * as storage from './storage.js';

const $ = (id) => document.getElementById(id);
const ui = {
  conversations: $('conversations'),
  newChat: $('new-chat'),
  model: $('model'),
  status: $('server-status'),
  openSettings: $('open-settings'),
  notice: $('notice'),
  messages: $('messages'),
  attachments: $('attachments'),
  prompt: $('prompt'),
  attach: $('attach'),
  send: $('send'),
  stop: $('stop'),
  keyDialog: $('key-dialog'),
  keyReason: $('key-reason'),
  keyInput: $('key-input'),
  keySave: $('key-save'),
};

const state = {
  chats: storage.loadChats(),
  currentId: storage.loadCurrentChat(),
  settings: storage.loadSettings(),
  apiKey: storage.loadApiKey(),
  models: [],
  attachments: [],  // data URLs waiting to be sent
  // The answer being generated: { chat, message, controller }.
  busy: null,
  renaming: null,  // id of the conversation whose title is being edited
};
const api = createApi(() => state.apiKey);
// The element of each message shown, to update an answer in place while it streams.
const messageViews = new WeakMap();

// ---- Notices and errors ---------------------------------------------------------------------

function showNotice(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = !text;
}

// What to tell the user about a failed request.
function describeError(error) {
  if (error instanceof ApiError) {
    return `The server answered ${error.status}: ${error.message}`;
  }
  if (error instanceof TypeError) {
    return `The server could not be reached (${error.message}). Is cria still running?`;
  }
  return `Error: ${error?.message ?? error}`;
}

// ---- Conversations ----------------------------------------------------------------------------

function currentChat() {
  return state.chats.find((chat) => chat.id === state.currentId) ?? null;
}

function newId() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function createChat() {
  const now = Date.now();
  const chat = {
    id: newId(), title: 'New chat', model: ui.model.value, system: state.settings.system,
    created: now, updated: now, messages: [],
  };
  state.chats.unshift(chat);
  return chat;
}

function persist() {
  try {
    storage.saveChats(state.chats);
    storage.saveCurrentChat(state.currentId);
    if (ui.notice.dataset.kind === 'storage') showNotice('');
  } catch (error) {
    showNotice(error.message);
    ui.notice.dataset.kind = 'storage';
  }
}

function selectChat(id) {
  state.currentId = id;
  storage.saveCurrentChat(id);
  const chat = currentChat();
  if (chat?.model && state.models.includes(chat.model)) ui.model.value = chat.model;
  renderConversations();
  renderMessages();
  ui.prompt.focus();
}

function titleFrom(text) {
  const line = text.trim().split('\n')[0].trim();
  if (!line) return 'Image';
  return line.length > 48 ? `${line.slice(0, 47)}…` : line;
}

function deleteChat(chat) {
  if (!window.confirm(`Delete the conversation "${chat.title}"?`)) return;
  if (state.busy?.chat === chat) state.busy.controller.abort();
  state.chats = state.chats.filter((c) => c !== chat);
  if (state.currentId === chat.id) state.currentId = state.chats[0]?.id ?? '';
  persist();
  renderConversations();
  renderMessages();
}

function renameField(chat) {
  const input = h('input', { type: 'text', class: 'rename', 'aria-label': 'Conversation title', maxlength: 200 });
  input.value = chat.title;
  let done = false;
  const finish = (keep) => {
    if (done) return;
    done = true;
    const title = input.value.trim();
    if (keep && title) {
      chat.title = title;
      persist();
    }
    state.renaming = null;
    renderConversations();
  };
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') finish(true);
    if (event.key === 'Escape') finish(false);
  });
  input.addEventListener('blur', () => finish(true));
  queueMicrotask(() => { input.focus(); input.select(); });
  return input;
}

function renderConversations() {
  ui.conversations.replaceChildren(...state.chats.map((chat) => {
    const current = chat.id === state.currentId;
    const title = state.renaming === chat.id
      ? renameField(chat)
      : h('button', {
        type: 'button', class: 'open', title: chat.title, 'aria-current': current ? 'true' : null,
        onclick: () => selectChat(chat.id),
      }, chat.title);
    return h('li', { class: current ? 'current' : '', dataset: { id: chat.id } },
      title,
      h('button', {
        type: 'button', class: 'icon', title: 'Rename', 'aria-label': 'Rename',
        onclick: () => { state.renaming = chat.id; renderConversations(); },
      }, '✎'),
      h('button', {
        type: 'button', class: 'icon', title: 'Delete', 'aria-label': 'Delete',
        onclick: () => deleteChat(chat),
      }, '×'));
  }));
}

// ---- Messages ---------------------------------------------------------------------------------

function formatStats(message) {
  const parts = [];
  if (message.model) parts.push(message.model);
  const s = message.stats;
  if (s) {
    if (s.completionTokens != null) parts.push(`${s.completionTokens} tokens`);
    if (s.tokensPerSecond != null) parts.push(`${s.tokensPerSecond.toFixed(1)} tokens/s`);
    if (s.promptTokens != null) parts.push(`prompt ${s.promptTokens} tokens`);
    if (s.firstTokenSeconds != null) parts.push(`first token after ${s.firstTokenSeconds.toFixed(2)} s`);
    if (s.seconds != null) parts.push(`${s.seconds.toFixed(2)} s`);
  }
  if (message.finish === 'length') parts.push('cut at the token limit');
  if (message.stopped) parts.push('stopped');
  return parts.join(' · ');
}

function messageIndex(chat, message) {
  return chat.messages.indexOf(message);
}

function deleteMessage(chat, message) {
  const index = messageIndex(chat, message);
  if (index < 0) return;
  chat.messages.splice(index, 1);
  persist();
  renderMessages();
}

// Fills `view` (the article of one message) from the message.
function fillMessage(view, chat, message) {
  const streaming = state.busy?.message === message;
  view.classList.toggle('streaming', streaming);
  const parts = [];
  if (message.role === 'user') {
    if (message.images?.length) {
      parts.push(h('div', { class: 'images' }, message.images.map((url) => h('img', { src: url, alt: 'attached image' }))));
    }
    parts.push(h('div', { class: 'body plain' }, message.content));
  } else {
    if (message.reasoning) {
      const details = view.querySelector('details.reasoning') ?? h('details', { class: 'reasoning' });
      const summary = streaming && !message.content ? 'Thinking…' : 'Reasoning';
      details.replaceChildren(h('summary', {}, summary), h('div', { class: 'reasoning-text' }, message.reasoning));
      parts.push(details);
    }
    const body = h('div', { class: 'body markdown' });
    if (message.content) body.append(renderMarkdown(message.content));
    else if (streaming && !message.reasoning) body.append(h('span', { class: 'muted' }, 'Waiting for the model…'));
    parts.push(body);
    if (message.error) parts.push(h('div', { class: 'error', role: 'alert' }, message.error));
    const stats = formatStats(message);
    if (stats && !streaming) parts.push(h('div', { class: 'stats' }, stats));
  }
  if (!streaming) {
    parts.push(h('div', { class: 'message-actions' },
      message.content ? copyButton('Copy', () => message.content, { 'aria-label': 'Copy message' }) : null,
      h('button', {
        type: 'button', class: 'icon', title: 'Delete this message', 'aria-label': 'Delete message',
        disabled: Boolean(state.busy && state.busy.chat === chat),
        onclick: () => deleteMessage(chat, message),
      }, '×')));
  }
  view.replaceChildren(...parts);
}

function messageView(chat, message) {
  const view = h('article', { class: `message ${message.role}`, dataset: { role: message.role } });
  messageViews.set(message, view);
  fillMessage(view, chat, message);
  return view;
}

function nearBottom() {
  const m = ui.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
}

function scrollToBottom() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function renderMessages() {
  const chat = currentChat();
  if (!chat || chat.messages.length === 0) {
    ui.messages.replaceChildren(h('div', { class: 'empty' },
      h('p', {}, state.models.length ? 'Ask something.' : 'No model to talk to yet.'),
      chat?.system ? h('p', { class: 'muted' }, `System prompt: ${chat.system}`) : null));
    return;
  }
  ui.messages.replaceChildren(...chat.messages.map((message) => messageView(chat, message)));
  scrollToBottom();
}

// Re-renders a streaming answer at most once a frame.
let pendingFrame = 0;
function scheduleAnswerUpdate(chat, message) {
  if (pendingFrame) return;
  pendingFrame = requestAnimationFrame(() => {
    pendingFrame = 0;
    updateAnswer(chat, message);
  });
}

function updateAnswer(chat, message) {
  const view = messageViews.get(message);
  if (!view || !view.isConnected) return;
  const follow = nearBottom();
  fillMessage(view, chat, message);
  if (follow) scrollToBottom();
}

// ---- Composer ---------------------------------------------------------------------------------

function renderAttachments() {
  ui.attachments.hidden = state.attachments.length === 0;
  ui.attachments.replaceChildren(...state.attachments.map((url, i) => h('figure', {},
    h('img', { src: url, alt: `attachment ${i + 1}` }),
    h('button', {
      type: 'button', class: 'icon', title: 'Remove', 'aria-label': 'Remove attachment',
      onclick: () => { state.attachments.splice(i, 1); renderAttachments(); },
    }, '×'))));
}

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function addImages(files) {
  for (const file of files) {
    if (!file.type.startsWith('image/')) {
      showNotice(`${file.name} is not an image.`);
      continue;
    }
    state.attachments.push(await readAsDataUrl(file));
  }
  renderAttachments();
}

function updateComposer() {
  const busy = Boolean(state.busy);
  ui.send.disabled = busy;
  ui.stop.hidden = !busy;
  ui.send.hidden = busy;
}

function autosizePrompt() {
  ui.prompt.style.height = 'auto';
  ui.prompt.style.height = `${Math.min(ui.prompt.scrollHeight, 240)}px`;
}

// ---- Generation -------------------------------------------------------------------------------

// The conversation as the OpenAI chat API takes it. Answers that failed before writing anything
// are no part of it.
function requestMessages(chat, pending) {
  const messages = [];
  if (chat.system.trim()) messages.push({ role: 'system', content: chat.system });
  for (const message of chat.messages) {
    if (message === pending) continue;
    if (message.role === 'assistant') {
      if (message.content) messages.push({ role: 'assistant', content: message.content });
      continue;
    }
    if (message.images?.length) {
      messages.push({
        role: 'user',
        content: [
          { type: 'text', text: message.content },
          ...message.images.map((url) => ({ type: 'image_url', image_url: { url } })),
        ],
      });
    } else {
      messages.push({ role: 'user', content: message.content });
    }
  }
  return messages;
}

function buildRequest(chat, model, pending) {
  return {
    ...samplingFields(state.settings.sampling),
    ...parseExtraFields(state.settings.extra),
    model,
    messages: requestMessages(chat, pending),
    // The page reads the answer as it is generated, and the token counts at its end.
    stream: true,
    stream_options: { include_usage: true },
  };
}

async function send() {
  if (state.busy) return;
  const text = ui.prompt.value;
  if (!text.trim() && state.attachments.length === 0) return;
  const model = ui.model.value;
  if (!model) {
    showNotice('There is no model to send the message to: the server lists none.');
    return;
  }
  try {
    parseExtraFields(state.settings.extra);
  } catch (error) {
    showNotice(`${error.message}: fix it in Settings.`);
    return;
  }
  const chat = currentChat() ?? createChat();
  state.currentId = chat.id;
  const firstMessage = chat.messages.length === 0;
  chat.messages.push({ role: 'user', content: text, images: [...state.attachments] });
  if (firstMessage && chat.title === 'New chat') chat.title = titleFrom(text);
  const answer = { role: 'assistant', content: '', reasoning: '', model, stats: null, error: null };
  chat.messages.push(answer);
  chat.model = model;
  chat.updated = Date.now();
  // The newest conversation first.
  state.chats = [chat, ...state.chats.filter((c) => c !== chat)];
  ui.prompt.value = '';
  autosizePrompt();
  state.attachments = [];
  renderAttachments();

  const controller = new AbortController();
  state.busy = { chat, message: answer, controller };
  persist();
  updateComposer();
  renderConversations();
  renderMessages();

  const started = performance.now();
  let first = null;
  let last = null;
  let usage = null;
  try {
    for await (const chunk of api.chat(buildRequest(chat, model, answer), controller.signal)) {
      // A failure after the stream began comes as an error event.
      if (chunk.error) {
        throw new ApiError(500, chunk.error.message ?? String(chunk.error), chunk.error.code);
      }
      const choice = chunk.choices?.[0];
      const delta = choice?.delta;
      if (delta) {
        const content = typeof delta.content === 'string' ? delta.content : '';
        const reasoning = typeof delta.reasoning_content === 'string' ? delta.reasoning_content : '';
        if (content || reasoning) {
          const now = performance.now();
          first ??= now;
          last = now;
          answer.content += content;
          answer.reasoning += reasoning;
          scheduleAnswerUpdate(chat, answer);
        }
      }
      if (choice?.finish_reason) answer.finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
  } catch (error) {
    if (controller.signal.aborted) {
      answer.stopped = true;
    } else {
      answer.error = describeError(error);
      if (error instanceof ApiError && error.status === 401) askForKey(error.message);
    }
  }
  const end = performance.now();
  const completion = usage?.completion_tokens ?? null;
  answer.stats = {
    promptTokens: usage?.prompt_tokens ?? null,
    completionTokens: completion,
    // From the first token to the last: the generation rate, without the prompt's processing.
    tokensPerSecond: completion > 1 && last > first ? (completion - 1) / ((last - first) / 1000) : null,
    firstTokenSeconds: first !== null ? (first - started) / 1000 : null,
    seconds: (end - started) / 1000,
  };
  state.busy = null;
  if (pendingFrame) {
    cancelAnimationFrame(pendingFrame);
    pendingFrame = 0;
  }
  chat.updated = Date.now();
  persist();
  updateComposer();
  // The whole conversation: the other messages' delete buttons come back too.
  if (currentChat() === chat) renderMessages();
}

function stop() {
  state.busy?.controller.abort();
}

// ---- Models and the API key ------------------------------------------------------------------

async function loadModels() {
  ui.status.textContent = 'Connecting…';
  try {
    state.models = await api.models();
  } catch (error) {
    state.models = [];
    ui.model.replaceChildren(h('option', { value: '' }, 'no models'));
    ui.status.textContent = '';
    if (error instanceof ApiError && error.status === 401) {
      askForKey(state.apiKey ? 'The server refused this key.' : '');
    } else {
      showNotice(`Could not list the models: ${describeError(error)}`);
    }
    renderMessages();
    return;
  }
  ui.status.textContent = '';
  const preferred = [currentChat()?.model, state.settings.model, state.models[0]]
    .find((name) => name && state.models.includes(name));
  ui.model.replaceChildren(...(state.models.length
    ? state.models.map((name) => h('option', { value: name }, name))
    : [h('option', { value: '' }, 'no models')]));
  if (preferred) ui.model.value = preferred;
  if (ui.notice.dataset.kind !== 'storage') showNotice('');
  renderMessages();
}

function askForKey(reason) {
  ui.keyReason.textContent = reason
    ? `${reason} Enter the key this server was started with (CRIA_API_KEY).`
    : 'This server asks for an API key: enter the one it was started with (CRIA_API_KEY).';
  ui.keyInput.value = '';
  if (!ui.keyDialog.open) ui.keyDialog.showModal();
  ui.keyInput.focus();
}

function saveKey() {
  state.apiKey = ui.keyInput.value.trim();
  storage.saveApiKey(state.apiKey);
  ui.keyDialog.close();
  loadModels();
}

// ---- Wiring -----------------------------------------------------------------------------------

ui.send.addEventListener('click', send);
ui.stop.addEventListener('click', stop);
ui.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});
ui.prompt.addEventListener('input', autosizePrompt);
ui.prompt.addEventListener('paste', (event) => {
  const images = [...(event.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
  if (images.length) {
    event.preventDefault();
    addImages(images);
  }
});
ui.attach.addEventListener('change', () => {
  addImages([...ui.attach.files]);
  ui.attach.value = '';
});
ui.newChat.addEventListener('click', () => {
  const empty = state.chats.find((chat) => chat.messages.length === 0);
  const chat = empty ?? createChat();
  persist();
  selectChat(chat.id);
});
ui.model.addEventListener('change', () => {
  state.settings.model = ui.model.value;
  const chat = currentChat();
  if (chat) chat.model = ui.model.value;
  try {
    storage.saveSettings(state.settings);
  } catch (error) {
    showNotice(error.message);
  }
  persist();
});
ui.openSettings.addEventListener('click', () => {
  const chat = currentChat();
  openSettings({
    system: chat ? chat.system : state.settings.system,
    sampling: state.settings.sampling,
    extra: state.settings.extra,
    apiKey: state.apiKey,
    save: ({ system, sampling, extra, apiKey }) => {
      state.settings = { ...state.settings, system, sampling, extra };
      if (chat) chat.system = system;
      try {
        storage.saveSettings(state.settings);
      } catch (error) {
        showNotice(error.message);
      }
      persist();
      renderMessages();
      if (apiKey !== state.apiKey) {
        state.apiKey = apiKey;
        storage.saveApiKey(apiKey);
        loadModels();
      }
    },
  });
});
ui.keySave.addEventListener('click', saveKey);
ui.keyInput.addEventListener('keydown', (event) => {
  if (event.key === 'Enter') saveKey();
});
// Another tab of the same server changed the conversations.
window.addEventListener('storage', (event) => {
  if (event.key === storage.CHATS_KEY && !state.busy) {
    state.chats = storage.loadChats();
    renderConversations();
    renderMessages();
  }
});

if (!currentChat()) state.currentId = state.chats[0]?.id ?? '';
renderConversations();
renderMessages();
updateComposer();
loadModels();
ui.prompt.focus();
