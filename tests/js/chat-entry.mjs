// What the demo's /chat page takes from the AI SDK: the transport useChat uses by default and
// the reader that assembles UIMessages. Bundled for the browser by build-chat-bundle.mjs.
export { DefaultChatTransport, readUIMessageStream } from "ai";
