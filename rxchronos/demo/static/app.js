// The rxchronos demo page: plain JavaScript, no build step, no dependencies.
//
// Every event of a run arrives through one EventSource on the library's SSE route. Each message
// is {"type": ..., "data": {...}}: a graph StreamEvent (node_start, model_chunk, interrupt, ...),
// the app's run_started, or the broker's done / reset.
"use strict";

const $ = (selector) => document.querySelector(selector);
const SVG = "http://www.w3.org/2000/svg";

// What the tests (and the curious) can read: window.rxDemo.
const demo = (window.rxDemo = {
  sessionId: null,
  status: "idle",
  events: 0,
  chunks: 0,
  source: null,
});

let steps = [];
let view = null; // the state of the run on screen; reset by every run_started

function freshView() {
  return {
    nodes: {}, // node id -> idle | running | done | paused | failed
    turns: {}, // model_call count -> {el, text, node}
    turn: null,
    tools: {}, // "<turn>:<index>" -> {el, name, id, args}
    t0: null,
    lastRow: null,
  };
}

// --- the graph diagram -------------------------------------------------------------------------

function drawGraph() {
  const svg = $("#graph");
  svg.replaceChildren();
  const w = 150, h = 64, gap = 46, pad = 64;
  const lastRight = pad + steps.length * w + (steps.length - 1) * gap;
  const endX = lastRight + 40;
  const width = endX + 24;
  const height = 132, y = 28;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);

  const defs = el("defs");
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" }));
  defs.append(marker);
  svg.append(defs);

  const cy = y + h / 2;
  svg.append(el("circle", { cx: 24, cy, r: 9, class: "terminal", id: "node-__start__" }));
  svg.append(label(24, cy + 28, "start", "terminal-label"));
  let x = pad;
  svg.append(edge(33, x, cy, "__start__"));
  steps.forEach((step, i) => {
    const g = el("g", { class: `node kind-${step.kind}`, id: `node-${step.id}`, "data-state": "idle" });
    g.append(el("rect", { x, y, width: w, height: h, rx: step.kind === "interrupt" ? 4 : 14 }));
    g.append(label(x + w / 2, y + 27, step.label, "node-label"));
    g.append(label(x + w / 2, y + 46, step.about, "node-about"));
    if (step.kind === "interrupt") {  // a pause sign
      g.append(el("rect", { x: x + w - 20, y: y + 8, width: 3.5, height: 11, rx: 1, class: "node-badge" }));
      g.append(el("rect", { x: x + w - 14, y: y + 8, width: 3.5, height: 11, rx: 1, class: "node-badge" }));
    }
    if (step.kind === "model") g.append(label(x + w - 14, y + 18, "✦", "node-badge"));
    svg.append(g);
    if (i < steps.length - 1) svg.append(edge(x + w, x + w + gap, cy, step.id));
    x += w + gap;
  });
  svg.append(edge(lastRight, endX - 9, cy, steps[steps.length - 1].id + "-end"));
  svg.append(el("circle", { cx: endX, cy, r: 9, class: "terminal", id: "node-__end__" }));
  svg.append(label(endX, cy + 28, "end", "terminal-label"));
}

function edge(x1, x2, y, from) {
  return el("line", { x1, y1: y, x2: x2 - 2, y2: y, class: "edge", id: `edge-${from}`,
    "marker-end": "url(#arrow)" });
}

function label(x, y, text, cls) {
  const t = el("text", { x, y, class: cls, "text-anchor": "middle" });
  t.textContent = text;
  return t;
}

function el(name, attrs = {}) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function setNode(id, state) {
  view.nodes[id] = state;
  const g = document.getElementById(`node-${id}`);
  if (g) g.setAttribute("data-state", state);
}

function lightEdge(from) {
  const line = document.getElementById(`edge-${from}`);
  if (line) line.classList.add("taken");
}

// --- status, approval ----------------------------------------------------------------------------

function setStatus(status) {
  demo.status = status;
  const pill = $("#status");
  pill.textContent = status;
  pill.dataset.status = status;
  const paused = status === "paused";
  $("#approve").disabled = !paused;
  $("#decline").disabled = !paused;
  $("#approval").dataset.state = paused ? "asking" : view && view.nodes.approve === "done" ? "done" : "waiting";
  if (paused) {
    $("#approval-note").textContent =
      "The agent has the forecast and is waiting for you. Approve to let it answer.";
  }
  $("#start").disabled = status === "running" || status === "starting";
}

async function approve(approved) {
  $("#approve").disabled = true;
  $("#decline").disabled = true;
  const resp = await fetch(`/api/runs/${demo.sessionId}/approve`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ approved }),
  });
  if (!resp.ok) note(`approve failed: ${resp.status} ${await resp.text()}`);
  $("#approval-note").textContent = approved ? "Approved: the run goes on." : "Declined.";
}

// --- the conversation and the tool calls -----------------------------------------------------------

function startTurn(node) {
  const index = Object.keys(view.turns).length;
  const wrap = document.createElement("div");
  wrap.className = "message assistant streaming";
  wrap.innerHTML = `<div class="who">assistant · node ${escapeHtml(node)}</div><div class="bubble"><span class="text"></span><span class="cursor"></span></div><div class="usage"></div>`;
  if (node === "answer") wrap.id = "answer";
  $("#turns").append(wrap);
  view.turns[index] = { el: wrap, text: "", node, chunks: 0 };
  view.turn = index;
  return view.turns[index];
}

function onChunk(node, delta) {
  const turn = view.turn === null ? startTurn(node) : view.turns[view.turn];
  turn.chunks += 1;
  if (delta.content) {
    turn.text += delta.content;
    turn.el.querySelector(".text").textContent = turn.text;
  }
  for (const call of delta.tool_calls || []) onToolFragment(view.turn, call);
  if (delta.usage) {
    const u = delta.usage;
    turn.el.querySelector(".usage").textContent =
      `${u.prompt_tokens || 0} tokens in · ${u.completion_tokens || 0} out` +
      (delta.stop_reason ? ` · stop: ${delta.stop_reason}` : "");
  }
  $("#tokens").textContent = `${demo.chunks} deltas streamed`;
}

function onToolFragment(turnIndex, call) {
  const key = `${turnIndex}:${call.index || 0}`;
  let slot = view.tools[key];
  if (!slot) {
    const empty = $("#tools .empty");
    if (empty) empty.remove();
    const card = document.createElement("div");
    card.className = "tool streaming";
    card.innerHTML = `<div class="tool-head"><span class="tool-name"></span><span class="tool-id"></span><span class="tool-state">streaming…</span></div><pre class="tool-args"></pre><div class="tool-result"></div>`;
    $("#tools").append(card);
    slot = view.tools[key] = { el: card, name: "", id: "", args: "" };
  }
  if (call.name) slot.name = slot.name || call.name;
  if (call.id) slot.id = slot.id || call.id;
  if (call.arguments) slot.args += call.arguments;
  slot.el.querySelector(".tool-name").textContent = `${slot.name || "?"}(…)`;
  slot.el.querySelector(".tool-id").textContent = slot.id;
  slot.el.querySelector(".tool-args").textContent = slot.args;
}

function finishTurn(response) {
  const turn = view.turns[view.turn];
  if (!turn) return;
  turn.el.classList.remove("streaming");
  for (const [key, slot] of Object.entries(view.tools)) {
    if (!key.startsWith(`${view.turn}:`)) continue;
    slot.el.classList.remove("streaming");
    let pretty = slot.args;
    try {
      pretty = JSON.stringify(JSON.parse(slot.args || "{}"), null, 2);
      slot.el.querySelector(".tool-state").textContent = "complete";
    } catch (e) {
      slot.el.querySelector(".tool-state").textContent = "arguments are not valid JSON";
    }
    slot.el.querySelector(".tool-args").textContent = pretty;
    slot.el.querySelector(".tool-name").textContent = `${slot.name}()`;
  }
  view.turn = null;
}

function showToolResults(results) {
  for (const result of results || []) {
    const slot = Object.values(view.tools).find((s) => s.id === result.id);
    if (!slot) continue;
    let text = result.content;
    try {
      const data = JSON.parse(result.content);
      text = Object.entries(data).map(([k, v]) => `${k}: ${v}`).join(" · ");
    } catch (e) { /* show it as it is */ }
    slot.el.querySelector(".tool-result").textContent = `→ ${text}`;
    slot.el.classList.add("has-result");
  }
}

// --- the timeline --------------------------------------------------------------------------------

function addRow(type, d) {
  const seconds = view.t0 !== null && d.timestamp ? (d.timestamp - view.t0).toFixed(2) : "";
  const coalesce = type === "model_chunk" && view.lastRow && view.lastRow.type === "model_chunk"
    && view.lastRow.node === d.node_id;
  if (coalesce) {
    const row = view.lastRow;
    row.count += 1;
    row.el.querySelector(".count").textContent = `×${row.count}`;
    row.el.querySelector(".time").textContent = `${seconds}s`;
    const text = (d.data && d.data.content) || "";
    if (text) row.preview = (row.preview + text).slice(-60);
    else if (d.data && d.data.tool_calls) row.preview = "tool call arguments…";
    row.el.querySelector(".detail").textContent = row.preview;
    return;
  }
  const li = document.createElement("li");
  li.className = `row type-${type}`;
  li.innerHTML = `<span class="time"></span><span class="badge"></span><span class="count"></span><span class="node"></span><span class="detail"></span>`;
  li.querySelector(".time").textContent = seconds ? `${seconds}s` : "";
  li.querySelector(".badge").textContent = type;
  li.querySelector(".node").textContent = d.node_id || "";
  li.querySelector(".detail").textContent = describe(type, d);
  const list = $("#timeline");
  list.append(li);
  list.scrollTop = list.scrollHeight;
  view.lastRow = { el: li, type, node: d.node_id, count: 1, preview: describe(type, d) };
}

function describe(type, d) {
  const data = d.data || {};
  switch (type) {
    case "run_started": return `session ${d.session_id}`;
    case "node_end": return `changed ${Object.keys(d.update || {}).join(", ") || "nothing"}`;
    case "edge_transition": return `${data.from} → ${data.to}`;
    case "checkpoint": return `step ${data.step}${data.paused ? ", paused" : ""}`;
    case "custom": return `${data.type}: ${JSON.stringify(data.data)}`;
    case "model_call": return `${data.provider}:${data.model}`;
    case "model_chunk": return data.content || (data.tool_calls ? "tool call arguments…" : "");
    case "model_response": return `${(data.content || "").length} chars, ${(data.tool_calls || []).length} tool call(s)`;
    case "interrupt": return "waiting for approval";
    case "error": return d.error || "";
    case "reset": return `replay reset (${data.reason})`;
    case "done": return "stream finished";
    default: return "";
  }
}

function note(text) {
  addRow("note", { detail: text });
  view.lastRow.el.querySelector(".detail").textContent = text;
}

// --- the event stream ----------------------------------------------------------------------------

function handle(message) {
  const type = message.type;
  const d = message.data || {};
  demo.events += 1;
  if (type === "run_started") reset(d.session_id);
  if (view.t0 === null && typeof d.timestamp === "number") view.t0 = d.timestamp;
  if (type === "model_chunk") demo.chunks += 1;
  addRow(type, d);
  $("#event-count").textContent = `${demo.events} events`;

  switch (type) {
    case "node_start":
      setNode(d.node_id, "running");
      if (demo.status !== "running") setStatus("running");
      break;
    case "node_end":
      setNode(d.node_id, "done");
      if (d.node_id === "tool") showToolResults((d.update || {}).tool_results);
      if (d.node_id === "approve") $("#approval").dataset.state = "done";
      break;
    case "edge_transition":
      lightEdge(d.data.from);
      break;
    case "model_call":
      startTurn(d.node_id);
      break;
    case "model_chunk":
      onChunk(d.node_id, d.data || {});
      break;
    case "model_response":
      finishTurn(d.data || {});
      break;
    case "interrupt":
      setNode(d.node_id, "paused");
      setStatus("paused");
      break;
    case "completed":
      lightEdge(`${d.node_id}-end`);
      setNode("__end__", "done");
      setStatus("completed");
      break;
    case "error":
      setNode(d.node_id, "failed");
      setStatus("failed");
      break;
    case "cancelled":
      setStatus("cancelled");
      break;
    case "done":
      if (demo.source) demo.source.close();
      break;
  }
}

function reset(sessionId) {
  view = freshView();
  demo.sessionId = sessionId;
  demo.events = 1;
  demo.chunks = 0;
  $("#timeline").replaceChildren();
  $("#turns").replaceChildren();
  $("#tools").innerHTML = `<p class="empty">No tool call yet.</p>`;
  $("#tokens").textContent = "";
  $("#approval-note").textContent =
    "The run pauses here before it answers: a human checks the tool's result.";
  drawGraph();
  setNode("__start__", "done");
  $("#session").textContent = `session ${sessionId} · share this tab's URL to watch it elsewhere`;
}

function connect(info) {
  if (demo.source) demo.source.close();
  demo.sessionId = info.session_id;
  $("#events-url").textContent = info.events_url;
  const source = new EventSource(info.events_url);
  demo.source = source;
  source.onmessage = (event) => handle(JSON.parse(event.data));
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED && demo.status === "running") {
      note("the event stream closed");
    }
  };
}

async function startRun() {
  setStatus("starting");
  const resp = await fetch("/api/runs", { method: "POST" });
  if (!resp.ok) {
    setStatus("failed");
    return;
  }
  const info = await resp.json();
  history.pushState(null, "", `?session=${encodeURIComponent(info.session_id)}`);
  connect(info);
}

async function join(sessionId) {
  const resp = await fetch(`/api/runs/${encodeURIComponent(sessionId)}`);
  if (!resp.ok) {
    $("#session").textContent = `no run ${sessionId} here (the server may have restarted)`;
    return;
  }
  connect(await resp.json());
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function main() {
  view = freshView();
  const graph = await (await fetch("/api/graph")).json();
  steps = graph.steps;
  drawGraph();
  $("#mermaid").textContent = graph.mermaid;
  $("#model").textContent = graph.model;
  $("#question").textContent = graph.question;
  $("#start").addEventListener("click", startRun);
  $("#approve").addEventListener("click", () => approve(true));
  $("#decline").addEventListener("click", () => approve(false));
  setStatus("idle");
  const sessionId = new URLSearchParams(location.search).get("session");
  if (sessionId) await join(sessionId);
}

main();
