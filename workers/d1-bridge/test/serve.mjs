// The bridge in workerd (Miniflare) with a local D1 database, for the Python tests.
//   node test/serve.mjs <secret>   prints the bridge URL, serves until stdin closes.
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";

const mf = new Miniflare({
  modules: true,
  scriptPath: fileURLToPath(new URL("../src/index.js", import.meta.url)),
  compatibilityDate: "2026-04-01",
  d1Databases: ["DB", "SHARD_1"],
  bindings: { BRIDGE_SECRET: process.argv[2] },
});
const url = await mf.ready;
console.log(`${url.href.replace(/\/$/, "")}/query`);
process.stdin.resume();
process.stdin.on("end", async () => {
  await mf.dispose();
  process.exit(0);
});
