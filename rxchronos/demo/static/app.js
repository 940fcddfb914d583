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
  connection: "none", // none | connecting | live | reconnecting | lost | finished
  events: 0,
  chunks: 0,
  source: null,
  failures: 0, // failed connection attempts in a row
  busy: false, // an approval is on its way
  together: [], // the nodes seen running at the same time ("forecast | spots")
});

const MAX_FAILURES = 3; // attempts in a row before the connection counts as lost
const NARROW = 800; // below this width (of the graph card) the diagram is drawn top to bottom

let steps = [];
let view = null; // the state of the run on screen; reset by every run_started

function freshView() {
  return {
    nodes: {}, // node id -> idle | running | done | paused | failed
    turns: {}, // model_call count -> {el, text, node}
    turn: null,
    tools: {}, // "<turn>:<index>" -> {el, name, id, args}
    taken: new Set(), // the edges the run went along ("from→to")
    lanes: {}, // task id -> lane number, for the branches of parallel steps
    t0: null,
    lastRow: null,
  };
}

// --- the graph diagram -------------------------------------------------------------------------

// The steps in columns: consecutive steps with the same `parallel` value are branches that run at
// the same time, drawn in one column (stacked on wide screens, side by side on narrow ones).
function columnsOf(steps) {
  const columns = [];
  for (const step of steps) {
    const last = columns[columns.length - 1];
    if (last && step.parallel && last[0].parallel === step.parallel) last.push(step);
    else columns.push([step]);
  }
  return columns;
}

function drawGraph() {
  const svg = $("#graph");
  svg.replaceChildren();
  const vertical = svg.parentElement.clientWidth < NARROW;
  svg.classList.toggle("vertical", vertical);
  const w = 150, h = 64, gap = vertical ? 34 : 46;
  const narrowW = 124, between = 12; // parallel boxes side by side (narrow screens); their gap
  const defs = el("defs");
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" }));
  defs.append(marker);
  svg.append(defs);

  // Where each box goes: columns in a row (wide screens) or rows in a column (narrow ones).
  const columns = columnsOf(steps);
  const widest = Math.max(...columns.map((c) => c.length));
  const pad = vertical ? 52 : 64;
  const across = vertical
    ? Math.max(w, widest * narrowW + (widest - 1) * between)
    : widest * h + (widest - 1) * between;
  const boxes = columns.map((column, i) => column.map((step, k) => {
    const n = column.length;
    if (vertical) {
      const bw = n > 1 ? narrowW : w;
      const left = 40 + (across - (n * bw + (n - 1) * between)) / 2;
      return { step, x: left + k * (bw + between), y: pad + i * (h + gap), w: bw };
    }
    const top = 28 + (across - (n * h + (n - 1) * between)) / 2;
    return { step, x: pad + i * (w + gap), y: top + k * (h + between), w };
  }));
  const last = boxes[boxes.length - 1][0];
  const width = vertical ? across + 80 : last.x + w + 64;
  const height = vertical ? last.y + h + 52 : across + 56;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.style.maxWidth = vertical ? `${width * 1.25}px` : "";
  const middle = vertical ? 40 + across / 2 : 28 + across / 2;
  const start = vertical ? { cx: middle, cy: 18 } : { cx: 24, cy: middle };
  const end = vertical ? { cx: middle, cy: height - 14 } : { cx: width - 24, cy: middle };

  svg.append(el("circle", { cx: start.cx, cy: start.cy, r: 9, class: "terminal", id: "node-__start__" }));
  svg.append(vertical ? label(start.cx + 32, start.cy + 4, "start", "terminal-label")
    : label(start.cx, start.cy + 28, "start", "terminal-label"));
  const out = (b) => (vertical ? [b.x + b.w / 2, b.y + h] : [b.x + b.w, b.y + h / 2]);
  const into = (b) => (vertical ? [b.x + b.w / 2, b.y] : [b.x, b.y + h / 2]);
  for (const b of boxes[0]) {
    const [x2, y2] = into(b);
    svg.append(vertical ? edge(start.cx, start.cy + 9, x2, y2, "__start__", b.step.id)
      : edge(start.cx + 9, start.cy, x2, y2, "__start__", b.step.id));
  }
  boxes.forEach((column, i) => {
    for (const { step, x, y, w: bw } of column) {
      const g = el("g", { class: `node kind-${step.kind}`, id: `node-${step.id}`, "data-state": "idle" });
      g.append(el("rect", { x, y, width: bw, height: h, rx: step.kind === "interrupt" ? 4 : 14 }));
      g.append(label(x + bw / 2, y + 27, step.label, "node-label"));
      g.append(label(x + bw / 2, y + 46, step.about, "node-about"));
      if (step.kind === "interrupt") {  // a pause sign
        g.append(el("rect", { x: x + bw - 20, y: y + 8, width: 3.5, height: 11, rx: 1, class: "node-badge" }));
        g.append(el("rect", { x: x + bw - 14, y: y + 8, width: 3.5, height: 11, rx: 1, class: "node-badge" }));
      }
      if (step.kind === "model") g.append(label(x + bw - 14, y + 18, "✦", "node-badge"));
      if (step.parallel) g.append(label(x + 14, y + 18, "∥", "node-badge"));
      svg.append(g);
    }
    const next = boxes[i + 1];
    for (const a of column) {
      const [x1, y1] = out(a);
      if (!next) {
        svg.append(vertical ? edge(x1, y1, x1, end.cy - 9, a.step.id, "__end__")
          : edge(x1, y1, end.cx - 9, y1, a.step.id, "__end__"));
        continue;
      }
      for (const b of next) {
        const [x2, y2] = into(b);
        svg.append(edge(x1, y1, x2, y2, a.step.id, b.step.id));
      }
    }
  });
  svg.append(el("circle", { cx: end.cx, cy: end.cy, r: 9, class: "terminal", id: "node-__end__" }));
  svg.append(vertical ? label(end.cx + 28, end.cy + 4, "end", "terminal-label")
    : label(end.cx, end.cy + 28, "end", "terminal-label"));
  if (view) {  // a redraw (the window was resized) keeps what the run has shown
    for (const [id, state] of Object.entries(view.nodes)) setNode(id, state);
    for (const key of view.taken) lightEdge(...key.split("\u2192"));
  }
}

function edge(x1, y1, x2, y2, from, to) {
  const dx = Math.sign(x2 - x1) * 2, dy = Math.sign(y2 - y1) * 2; // stop short of the box
  return el("line", { x1, y1, x2: x2 - dx, y2: y2 - dy, class: "edge", id: `edge-${from}-${to}`,
    "data-from": from, "data-to": to, "marker-end": "url(#arrow)" });
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
  const running = Object.keys(view.nodes).filter((n) => view.nodes[n] === "running");
  if (running.length > 1) demo.together.push(running.join(" | ")); // branches at the same time
  if (state === "running" || state === "paused") {
    // a node that several branches lead into runs once: light every edge from a finished one
    for (const line of document.querySelectorAll(`#graph .edge[data-to="${CSS.escape(id)}"]`)) {
      if (view.nodes[line.dataset.from] === "done") lightEdge(line.dataset.from, id);
    }
  }
}

function lightEdge(from, to) {
  view.taken.add(`${from}\u2192${to}`);
  const line = document.getElementById(`edge-${from}-${to}`);
  if (line) line.classList.add("taken");
}

// --- status, approval ----------------------------------------------------------------------------

function setStatus(status) {
  demo.status = status;
  const pill = $("#status");
  pill.textContent = status;
  pill.dataset.status = status;
  const paused = status === "paused";
  const approval = $("#approval");
  if (paused) {
    approval.dataset.state = "asking";
    $("#approval-note").textContent =
      "The agent has the forecast and is waiting for you. Approve to let it answer.";
  } else if (approval.dataset.state === "asking") {
    approval.dataset.state = "waiting";
  }
  updateActions();
}

// What the page shows about its event stream: actions that need the server are off unless live.
const CONNECTION_TEXT = {
  none: "",
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  lost: "connection lost",
  finished: "stream finished",
};

function setConnection(state, why = "") {
  demo.connection = state;
  const pill = $("#connection");
  pill.dataset.state = state;
  pill.textContent = CONNECTION_TEXT[state];
  pill.title = why;
  pill.hidden = state === "none";
  $("#reconnect").hidden = state !== "lost";
  $("#status").dataset.stale = String(state === "reconnecting" || state === "lost");
  if (demo.status === "paused" && state !== "live") {
    $("#approval-note").textContent = state === "lost"
      ? `Cannot approve: ${why || "the connection to the server is lost"}.`
      : "Cannot approve while the page is reconnecting to the server…";
  } else if (demo.status === "paused") {
    $("#approval-note").textContent =
      "The agent has the forecast and is waiting for you. Approve to let it answer.";
  }
  updateActions();
}

function updateActions() {
  const canDecide = demo.status === "paused" && demo.connection === "live" && !demo.busy;
  $("#approve").disabled = !canDecide;
  $("#decline").disabled = !canDecide;
  const following = demo.status === "running" && demo.connection === "live";
  $("#start").disabled = demo.status === "starting" || following;
}

async function approve(approved) {
  const action = approved ? "Approve" : "Decline";
  demo.busy = true;
  updateActions();
  let failure = null;
  try {
    const resp = await fetch(`/api/runs/${encodeURIComponent(demo.sessionId)}/approve`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ approved }),
    });
    if (!resp.ok) failure = `${resp.status} ${(await resp.text()).trim()}`;
  } catch (e) {
    failure = "the server cannot be reached";
  }
  demo.busy = false;
  if (failure) {
    $("#approval").dataset.state = "failed";
    $("#approval-note").textContent = `${action} failed: ${failure}`;
    note(`${action.toLowerCase()} failed: ${failure}`);
  } else if (demo.status === "paused" || demo.status === "running") {
    // (when the run has already ended, its last event said what the decision did)
    $("#approval").dataset.state = approved ? "done" : "declined";
    $("#approval-note").textContent = approved
      ? "Approved: the run goes on to the answer."
      : "Declined: the run goes on without asking the model again, and ends with no answer.";
  }
  updateActions();
}

function showOutcome(d) {
  // The end of a run, said where the approval was asked: what approving or declining did.
  const state = d.state || {};
  if (state.approved === false) {
    $("#approval").dataset.state = "declined";
    $("#approval-note").textContent =
      "Declined: the answer node skipped the model, so the run ended with no answer.";
  } else if (state.approved === true) {
    $("#approval").dataset.state = "done";
    $("#approval-note").textContent = "Approved: the agent answered.";
  }
  if (!document.getElementById("answer") && state.answer) {  // an answer no model streamed
    const turn = startTurn("answer", "the answer node, without a model call");
    turn.el.classList.remove("streaming");
    turn.el.classList.add("no-model");
    turn.el.querySelector(".text").textContent = state.answer;
    view.turn = null;
  }
}

// --- the conversation and the tool calls -----------------------------------------------------------

function startTurn(node, who = `assistant · node ${node}`) {
  const index = Object.keys(view.turns).length;
  const wrap = document.createElement("div");
  wrap.className = "message assistant streaming";
  wrap.innerHTML = `<div class="who">${escapeHtml(who)}</div><div class="bubble"><span class="text"></span><span class="cursor"></span></div><div class="usage"></div>`;
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

function onBranch(toolCallId, taskId, state) {
  // the tool call's card says which branch runs it, and whether it still runs
  const slot = Object.values(view.tools).find((s) => s.id === toolCallId);
  if (!slot) return;
  slot.el.dataset.branch = state;
  slot.el.dataset.lane = String(laneOf(taskId));
  slot.el.querySelector(".tool-state").textContent =
    state === "running" ? `running in branch ${taskId}…` : `ran in branch ${taskId}`;
}

function showToolResults(results) {
  for (const result of results || []) {
    const slot = Object.values(view.tools).find((s) => s.id === result.id);
    if (!slot) continue;
    let text = result.content;
    try {
      const data = JSON.parse(result.content);
      const plain = (v) => (typeof v === "object" && v !== null ? JSON.stringify(v) : v);
      text = Object.entries(data).map(([k, v]) => `${k}: ${plain(v)}`).join(" · ");
    } catch (e) { /* show it as it is */ }
    slot.el.querySelector(".tool-result").textContent = `→ ${text}`;
    slot.el.classList.add("has-result");
  }
}

// --- the timeline --------------------------------------------------------------------------------

// A branch of a parallel step (its node_start says `parallel`) gets a lane: a colour and a label
// on each of its rows, so that the events of branches running at once can be told apart.
function laneOf(taskId) {
  if (!(taskId in view.lanes)) view.lanes[taskId] = Object.keys(view.lanes).length;
  return view.lanes[taskId];
}

function addRow(type, d) {
  const seconds = view.t0 !== null && d.timestamp ? (d.timestamp - view.t0).toFixed(2) : "";
  if (type === "node_start" && d.data && d.data.parallel) laneOf(d.task_id);
  const lane = d.task_id && d.task_id in view.lanes ? view.lanes[d.task_id] : null;
  const coalesce = type === "model_chunk" && view.lastRow && view.lastRow.type === "model_chunk"
    && view.lastRow.node === d.node_id && view.lastRow.task === d.task_id;
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
  if (lane !== null) {
    li.classList.add("branch", `lane-${lane % 4}`);
    li.dataset.task = d.task_id;
    const call = d.data && d.data.tool_call_id;
    const tag = document.createElement("span");
    tag.className = "lane";
    tag.textContent = call ? `${d.task_id} · ${call}` : d.task_id;
    li.querySelector(".detail").prepend(tag);
  }
  const list = $("#timeline");
  list.append(li);
  list.scrollTop = list.scrollHeight;
  view.lastRow = { el: li, type, node: d.node_id, task: d.task_id, count: 1,
    preview: describe(type, d) };
}

function describe(type, d) {
  const data = d.data || {};
  switch (type) {
    case "run_started": return `session ${d.session_id}`;
    case "node_end": return `changed ${Object.keys(d.update || {}).join(", ") || "nothing"}`;
    case "edge_transition": return `${data.from} → ${data.to}`;
    case "checkpoint": return `step ${data.step}${data.paused ? ", paused" : ""}`;
    case "step_end": return `parallel step ${data.step} done: ${(data.task_ids || []).join(", ")}`;
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
      if (d.data && d.data.tool_call_id) onBranch(d.data.tool_call_id, d.task_id, "running");
      break;
    case "node_end":
      setNode(d.node_id, "done");
      showToolResults((d.update || {}).tool_results);
      if (d.data && d.data.tool_call_id) onBranch(d.data.tool_call_id, d.task_id, "done");
      if (d.node_id === "approve") $("#approval").dataset.state = "done";
      break;
    case "edge_transition":
      lightEdge(d.data.from, d.data.to);
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
      lightEdge(d.node_id, "__end__");
      setNode("__end__", "done");
      setStatus("completed");
      showOutcome(d);
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
      setConnection("finished");
      break;
  }
}

function clearView() {
  view = freshView();
  demo.together = [];
  demo.events = 0;
  demo.chunks = 0;
  $("#timeline").replaceChildren();
  $("#turns").replaceChildren();
  $("#tools").innerHTML = `<p class="empty">No tool call yet.</p>`;
  $("#tokens").textContent = "";
  $("#event-count").textContent = "0 events";
  $("#approval").dataset.state = "waiting";
  $("#approval-note").textContent =
    "The run pauses here before it answers: a human checks the tool's result.";
  drawGraph();
}

function reset(sessionId) {
  clearView();
  demo.sessionId = sessionId;
  demo.events = 1;
  setNode("__start__", "done");
  $("#session").textContent = `session ${sessionId} · share this tab's URL to watch it elsewhere`;
}

function connect(info) {
  if (demo.source) demo.source.close();
  clearView();
  demo.sessionId = info.session_id;
  demo.failures = 0;
  $("#session").textContent = `session ${info.session_id}`;
  $("#events-url").textContent = info.events_url;
  setStatus("idle"); // until the run's own events say more
  setConnection("connecting");
  const source = new EventSource(info.events_url);
  demo.source = source;
  source.onopen = () => {
    if (demo.source !== source) return;
    demo.failures = 0;
    setConnection("live");
  };
  source.onmessage = (event) => {
    if (demo.source === source) handle(JSON.parse(event.data));
  };
  source.onerror = () => {
    if (demo.source !== source || demo.connection === "finished") return;
    demo.failures += 1;
    if (source.readyState === EventSource.CLOSED || demo.failures >= MAX_FAILURES) {
      source.close();
      lost(info.session_id);
    } else {
      setConnection("reconnecting");
    }
  };
}

async function lost(sessionId) {
  // Say why, when the server can tell: a restarted server no longer knows the run.
  let why = "the server cannot be reached";
  try {
    const resp = await fetch(`/api/runs/${encodeURIComponent(sessionId)}`);
    why = resp.status === 404
      ? `the server no longer knows run ${sessionId} (it may have restarted)`
      : `the server answers ${resp.status}`;
  } catch (e) { /* unreachable: as said */ }
  if (demo.sessionId !== sessionId) return;
  setConnection("lost", why);
  note(`connection lost: ${why}`);
}

async function startRun() {
  const before = demo.status;
  setStatus("starting");
  $("#start-note").textContent = "";
  let failure = null;
  try {
    const resp = await fetch("/api/runs", { method: "POST" });
    if (resp.ok) {
      const info = await resp.json();
      history.pushState(null, "", `?session=${encodeURIComponent(info.session_id)}`);
      connect(info);
      return;
    }
    failure = `${resp.status} ${(await resp.text()).trim()}`;
  } catch (e) {
    failure = "the server cannot be reached";
  }
  $("#start-note").textContent = `Start failed: ${failure}`;
  setStatus(before);
}

async function join(sessionId) {
  let info = null;
  try {
    const resp = await fetch(`/api/runs/${encodeURIComponent(sessionId)}`);
    if (resp.ok) info = await resp.json();
  } catch (e) { /* reported below */ }
  if (!info) {
    idle();
    $("#session").textContent = `no run ${sessionId} here (the server may have restarted)`;
    return;
  }
  connect(info);
}

function idle() {
  if (demo.source) demo.source.close();
  demo.source = null;
  demo.sessionId = null;
  clearView();
  setStatus("idle");
  setConnection("none");
  $("#session").innerHTML = "no run yet · press <b>Start run</b>";
  $("#events-url").textContent = "/runs/<session>/events";
}

async function showRunOfUrl() {
  // The page shows the run its URL names, also after Back and Forward.
  const sessionId = new URLSearchParams(location.search).get("session");
  if (!sessionId) idle();
  else if (sessionId !== demo.sessionId || demo.connection === "lost") await join(sessionId);
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
  $("#reconnect").addEventListener("click", () => join(demo.sessionId));
  window.addEventListener("popstate", showRunOfUrl);
  let wide = $("#graph").parentElement.clientWidth >= NARROW;
  window.addEventListener("resize", () => {
    const now = $("#graph").parentElement.clientWidth >= NARROW;
    if (now !== wide) drawGraph();
    wide = now;
  });
  setStatus("idle");
  setConnection("none");
  await showRunOfUrl();
}

main();
