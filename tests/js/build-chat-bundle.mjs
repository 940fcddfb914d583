// Bundle the AI SDK pieces the demo's /chat page uses into one browser module (no CDN):
// node build-chat-bundle.mjs <output file>
import { build } from "esbuild";

const [outfile] = process.argv.slice(2);
if (!outfile) throw new Error("usage: node build-chat-bundle.mjs <output file>");
await build({
  entryPoints: [new URL("./chat-entry.mjs", import.meta.url).pathname],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  legalComments: "eof",
  outfile,
  logLevel: "warning",
});
