// @ag-ui/client's HttpAgent (event verification always on) against an rxchronos add_ag_ui_route.
// Usage: node ag_ui_agent.mjs <url> <input json> <cut: -1 | frames> [<resume url>]
// The input gives threadId, runId, messages, state (and resume). With a cut, the first response
// is cut after that many frames, inside a text message (a forced disconnect); then the same
// agent POSTs the same run again with Last-Event-ID (to <resume url>, another worker, when
// given). Prints what the agent ended with (its messages and state, the event types it saw, its
// subscribers' CUSTOM events and the last run's pendingToolCallIds), as JSON.
import { HttpAgent } from "@ag-ui/client";
import { readFrames, streamOf } from "./sse.mjs";

const [url, inputJson, cutArg, resumeUrl] = process.argv.slice(2);
const input = JSON.parse(inputJson);
const cutAfter = Number(cutArg);
const seen = { first: [], resumed: [] };
let lastId = null;
let attempt = "first";

const cuttingFetch = async (target, init) => {
  const response = await fetch(target, init);
  if (attempt !== "first" || cutAfter < 0 || !response.ok) return response;
  const read = await readFrames(response, { cutAfter, dataMatch: "TEXT_MESSAGE_CONTENT" });
  lastId = read.lastId;
  return new Response(streamOf(read.text), { status: 200, headers: response.headers });
};

const agent = new HttpAgent({
  url,
  threadId: input.threadId,
  initialMessages: input.messages,
  initialState: input.state ?? {},
  fetch: cuttingFetch,
});
const custom = [];
let pendingToolCallIds = null;
const subscriber = {
  onEvent: ({ event }) => { seen[attempt].push(event.type); },
  onCustomEvent: ({ event }) => { custom.push({ name: event.name, value: event.value }); },
  // the calls the client would have to run itself: those without a TOOL_CALL_RESULT
  onRunFinishedEvent: (params) => { pendingToolCallIds = params.pendingToolCallIds ?? null; },
};
const options = { runId: input.runId, ...(input.resume ? { resume: input.resume } : {}) };
let firstError = null;
try {
  await agent.runAgent(options, subscriber);
} catch (error) {
  firstError = String(error);
}
let resumedError = null;
if (cutAfter >= 0) {
  attempt = "resumed";
  agent.headers = { ...agent.headers, "Last-Event-ID": lastId };
  if (resumeUrl) agent.url = resumeUrl;
  try {
    await agent.runAgent(options, subscriber);
  } catch (error) {
    resumedError = String(error);
  }
}
console.log(JSON.stringify({
  messages: agent.messages, state: agent.state, seen, lastId, firstError, resumedError,
  custom, pendingToolCallIds,
}));
