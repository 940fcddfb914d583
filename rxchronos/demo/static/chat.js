// The /chat page: a small useChat-style client on the AI SDK's own browser pieces (bundled from
// the installed `ai` package into /static/vendor/ai-chat.mjs by `make js`; no CDN).
//
// The conversation is kept in localStorage under the chat id, so that a reload shows it again;
// on load the page asks GET /api/chat/{id}/stream (what useChat({resume: true}) does) and, when an
// answer is still being written, reads it again from its start.

const problem = document.querySelector("#chat-problem");
const log = document.querySelector("#chat-log");
const form = document.querySelector("#chat-form");
const input = document.querySelector("#chat-input");
const send = document.querySelector("#chat-send");
const status = document.querySelector("#chat-status");

let ai;
try {
  ai = await import("/static/vendor/ai-chat.mjs");
} catch (error) {
  problem.hidden = false;
  problem.textContent =
    "The AI SDK bundle is missing: run `make js` (it builds static/vendor/ai-chat.mjs), then reload.";
  form.querySelector("button").disabled = true;
  throw error;
}

const transport = new ai.DefaultChatTransport({ api: "/api/chat" });
const store = window.localStorage;
let chatId = store.getItem("rxchronos-chat-id");
if (!chatId) {
  chatId = `chat-${crypto.randomUUID()}`;
  store.setItem("rxchronos-chat-id", chatId);
}
let messages = JSON.parse(store.getItem(`rxchronos-chat:${chatId}`) || "[]");

function save() {
  store.setItem(`rxchronos-chat:${chatId}`, JSON.stringify(messages));
}

function setStatus(value) {
  status.textContent = value;
  status.dataset.status = value;
  send.disabled = value !== "ready";
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderPart(part, live) {
  if (part.type === "text") return element("div", "chat-part text", part.text);
  if (part.type === "reasoning") return element("div", "chat-part reasoning", part.text);
  if (part.type.startsWith("tool-")) {
    const node = element("div", "chat-part tool");
    node.dataset.state = part.state;
    const output = part.state === "output-available" ? ` → ${JSON.stringify(part.output)}` : " …";
    node.textContent = `${part.type.slice(5)}(${JSON.stringify(part.input ?? {})})${output}`;
    return node;
  }
  if (part.type === "data-plan") {
    return element("div", "chat-part data", `plan: ${part.data.steps.join(" → ")}`);
  }
  if (part.type === "data-interrupt") {
    const node = element("div", "chat-part interrupt");
    node.append(element("span", "", `The run paused before "${part.data.node}".`));
    if (!live) {
      const approve = element("button", "primary approve", "Approve");
      approve.type = "button";
      approve.addEventListener("click", () =>
        submit("Approved.", { resume: { approved: true } }));
      node.append(approve);
    }
    return node;
  }
  return null; // data-state, step-start: not shown
}

function render(liveMessage) {
  log.replaceChildren();
  const all = liveMessage ? [...messages, liveMessage] : messages;
  all.forEach((message, index) => {
    const last = index === all.length - 1;
    const node = element("div", `chat-message ${message.role}`);
    node.dataset.id = message.id;
    node.append(element("div", "who", message.role === "user" ? "you" : "agent"));
    const bubble = element("div", "bubble");
    for (const part of message.parts) {
      const shown = renderPart(part, Boolean(liveMessage) || !last);
      if (shown) bubble.append(shown);
    }
    node.append(bubble);
    log.append(node);
  });
}

async function read(stream) {
  setStatus("streaming");
  let message = null;
  try {
    const chunks = stream.pipeThrough(new TransformStream());
    for await (const update of ai.readUIMessageStream({ stream: chunks })) {
      message = update;
      render(message);
    }
  } catch (error) {
    problem.hidden = false;
    problem.textContent = `The answer failed: ${error.message ?? error}`;
  }
  if (message) {
    messages = [...messages, message];
    save();
  }
  render();
  setStatus("ready");
}

async function submit(text, body) {
  problem.hidden = true;
  messages = [...messages, {
    id: `user-${crypto.randomUUID()}`, role: "user", parts: [{ type: "text", text }],
  }];
  save();
  render();
  setStatus("submitted");
  try {
    const stream = await transport.sendMessages({
      chatId, messages, trigger: "submit-message", messageId: undefined,
      abortSignal: undefined, body,
    });
    await read(stream);
  } catch (error) {
    problem.hidden = false;
    problem.textContent = `The request failed: ${error.message ?? error}`;
    setStatus("ready");
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (text) submit(text);
  input.value = "";
});

document.querySelector("#new-chat").addEventListener("click", () => {
  store.removeItem("rxchronos-chat-id");
  window.location.reload();
});

render();
const resumed = await transport.reconnectToStream({ chatId });
if (resumed) {
  // The answer still being written, read again from its start (this tab kept only finished ones).
  await read(resumed);
} else {
  setStatus("ready");
}
