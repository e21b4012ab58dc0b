// The API as the playground calls it: JSON in and out, the contract's error envelope as ApiProblem,
// and the task-events stream read with fetch() (EventSource cannot send an Authorization header).

export class ApiProblem extends Error {
  constructor(code, reason, message, metadata) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.metadata = metadata || {};
  }
}

export async function request(key, method, path, body) {
  const headers = { Authorization: `Bearer ${key}` };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiProblem(0, "NETWORK_ERROR", "The server could not be reached.", {});
  }
  let document_ = null;
  try {
    document_ = await response.json();
  } catch {
    document_ = null;
  }
  if (!response.ok) {
    if (document_ && typeof document_.reason === "string") {
      throw new ApiProblem(document_.code || response.status, document_.reason, document_.message, document_.metadata);
    }
    throw new ApiProblem(response.status, "HTTP_ERROR", `The server answered HTTP ${response.status}.`, {});
  }
  return document_;
}

// Calls onDocument with each task-result document of the stream. Resolves true after a terminal one,
// false when the server has no stream (another server, a proxy) or it ended early: poll then.
export async function readTaskEvents(key, taskId, signal, isTerminal, onDocument) {
  const response = await fetch(`/v3/async/task-events?task_id=${encodeURIComponent(taskId)}`, {
    headers: { Authorization: `Bearer ${key}`, Accept: "text/event-stream" },
    signal,
  });
  if (!response.ok || !response.body) return false;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const document_ = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (document_ && !signal.aborted) {
        onDocument(document_);
        if (isTerminal(document_)) return true;
      }
    }
  }
}

function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (name !== "task" || data.length === 0) return null; // comments (keep-alives) and other events
  return JSON.parse(data.join("\n"));
}
