// Runs the producer with the forwarder as its tail consumer in workerd (Miniflare), sends
// it requests, prints "done" and stays up until stdin closes (the pytest driver stops it).
//   node test/run.mjs <endpoint> <api key> <paths...> [--max-bytes N] [--attempts N]
//                     [--retry-seconds N]
// Every request carries a cookie and an Authorization header the forwarder must not send.
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(name);
  if (index === -1) return fallback;
  const [, value] = args.splice(index, 2);
  return value;
};
const maxBytes = option("--max-bytes", "1000000");
const attempts = option("--attempts", undefined);
const retrySeconds = option("--retry-seconds", undefined);
const [endpoint, apiKey, ...paths] = args;

const mf = new Miniflare({
  workers: [
    {
      name: "checkout-worker",
      modules: true,
      scriptPath: here("./producer.js"),
      compatibilityDate: "2026-04-01",
      tails: ["logs-tail-forwarder"],
    },
    {
      name: "logs-tail-forwarder",
      modules: true,
      scriptPath: here("../src/index.js"),
      compatibilityDate: "2026-04-01",
      bindings: {
        LOGS_ENDPOINT: endpoint,
        LOGS_API_KEY: apiKey,
        MAX_PAYLOAD_BYTES: maxBytes,
        ...(attempts ? { MAX_ATTEMPTS: attempts } : {}),
        ...(retrySeconds ? { RETRY_SECONDS: retrySeconds } : {}),
      },
    },
  ],
});

for (const path of paths) {
  if (path === "@scheduled") {
    const worker = await mf.getWorker("checkout-worker");
    const result = await worker.scheduled({ cron: "*/5 * * * *" });
    console.log(`@scheduled ${result.outcome}`);
    continue;
  }
  const response = await mf.dispatchFetch(`http://localhost${path}`, {
    headers: { Cookie: "session=SECRET-COOKIE", Authorization: "Bearer SECRET-AUTH" },
  });
  console.log(`${path} ${response.status}`);
  await response.text();
}
console.log("done");
process.stdin.resume();
process.stdin.on("end", async () => {
  await mf.dispose();
  process.exit(0);
});
