// Reading our SSE responses frame by frame, keeping the raw bytes, so that a test can cut a
// stream after a given frame (a forced disconnect) and hand the bytes to the real client parser.

export async function readFrames(response, { cutAfter = -1, dataMatch = null } = {}) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const kept = [];
  let buffer = "";
  let frames = 0;
  let lastId = null;
  let cut = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, end + 2);
      buffer = buffer.slice(end + 2);
      kept.push(block);
      const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
      const id = block.split("\n").find((l) => l.startsWith("id: "));
      if (data.length === 0) continue;
      if (id) lastId = id.slice(4);
      frames += 1;
      const matches = dataMatch === null || data.join("\n").includes(dataMatch);
      if (cutAfter >= 0 && frames >= cutAfter && matches) {
        cut = true;
        break;
      }
    }
    if (cut) break;
  }
  if (cut) await reader.cancel();
  return { text: kept.join(""), lastId, frames, cut };
}

export function streamOf(text) {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

export function frameIds(text) {
  return text.split("\n").filter((l) => l.startsWith("id: ")).map((l) => l.slice(4));
}
