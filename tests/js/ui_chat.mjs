// The AI SDK's own parser and readUIMessageStream, reading an rxchronos add_chat_route.
// Usage: node ui_chat.mjs <api url> <body json> <cut: -1 | frames> <resume: last-id | start>
//        [<resume api url>]   (the resume GET goes there: another worker)
// Prints {message, ids, headers, cut} as JSON.
import { DefaultChatTransport, readUIMessageStream } from "ai";
import { frameIds, readFrames, streamOf } from "./sse.mjs";

const [api, bodyJson, cutArg, resumeMode = "last-id", resumeApi = api] = process.argv.slice(2);
const body = JSON.parse(bodyJson);
const cutAfter = Number(cutArg);

const response = await fetch(api, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: bodyJson,
});
if (!response.ok) throw new Error(`POST ${api}: ${response.status} ${await response.text()}`);
const headers = Object.fromEntries(response.headers.entries());
const first = await readFrames(response, { cutAfter, dataMatch: "text-delta" });
let text = first.text;
if (first.cut) {
  const url = `${resumeApi}/${encodeURIComponent(body.id)}/stream`;
  const resumeHeaders = resumeMode === "last-id" ? { "Last-Event-ID": first.lastId } : {};
  const again = await fetch(url, { headers: resumeHeaders });
  if (again.status !== 200) throw new Error(`GET ${url}: ${again.status} ${await again.text()}`);
  const rest = await readFrames(again);
  text = resumeMode === "last-id" ? text + rest.text : rest.text;
}
const transport = new DefaultChatTransport({ api });
const chunks = transport.processResponseStream(streamOf(text));
let message = null;
for await (const m of readUIMessageStream({ stream: chunks, onError: (e) => { throw e; } })) {
  message = m;
}
console.log(JSON.stringify({ message, ids: frameIds(text), headers, cut: first.cut, lastId: first.lastId }));
