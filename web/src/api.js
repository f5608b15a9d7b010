// Requests to the cria server that served this page. URLs are relative to the page, so they go
// to its own origin (and keep working behind a proxy that serves cria under a path); the API
// key, when the user gave one, travels as `Authorization: Bearer KEY`.

export class ApiError extends Error {
  constructor(status, message, code = null) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The error a failed response carries: OpenAI's {"error": {"message"}} or Ollama's
// {"error": "..."}; the body text or the status line when it is neither.
async function failure(response) {
  const text = await response.text().catch(() => '');
  let message = text.trim() || response.statusText || 'the server gave no reason';
  let code = null;
  try {
    const error = JSON.parse(text)?.error;
    if (typeof error === 'string') {
      message = error;
    } else if (error && typeof error.message === 'string') {
      message = error.message;
      code = error.code ?? null;
    }
  } catch {
    // Not JSON: the text itself is the message.
  }
  return new ApiError(response.status, message, code);
}

// The JSON payloads of a server-sent event stream, until `data: [DONE]` or the end.
async function* events(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      const data = event.split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (!data) continue;
      if (data === '[DONE]') return;
      yield JSON.parse(data);
    }
  }
}

export function createApi(getKey) {
  function headers(extra = {}) {
    const key = getKey();
    return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
  }

  return {
    // The ids of the models the server offers.
    async models() {
      const response = await fetch('v1/models', { headers: headers(), cache: 'no-store' });
      if (!response.ok) throw await failure(response);
      const body = await response.json();
      return (body.data ?? []).map((model) => model.id).sort();
    },

    // Streams a chat completion: yields every chunk the server sends. Aborting `signal` closes
    // the connection, which is what tells cria to stop generating.
    async* chat(request, signal) {
      const response = await fetch('v1/chat/completions', {
        method: 'POST',
        headers: headers({ 'content-type': 'application/json' }),
        body: JSON.stringify(request),
        signal,
      });
      if (!response.ok) throw await failure(response);
      yield* events(response.body);
    },
  };
}
