// Tail Worker: forwards the TraceItems of the Workers it is attached to (console calls,
// exceptions, outcomes) to logsService's POST /api/v1/logs/tail.
//
// Settings (wrangler.toml [vars], or `wrangler secret put` for the key):
//   LOGS_ENDPOINT      the service's tail URL, e.g. https://logs.example.com/api/v1/logs/tail
//   LOGS_API_KEY       secret: the Bearer key
//   MIN_LEVEL          drop console calls below: debug (default), info, warn or error
//   SAMPLE_RATE        keep this share of invocations (default 1); failures are always kept
//   MAX_PAYLOAD_BYTES  split requests above this size (default 1,000,000)
//   MAX_ATTEMPTS       tries per request, with exponential backoff (default 4)

const LEVEL_RANK = { debug: 0, log: 1, info: 1, warn: 2, error: 3 };
const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

export default {
  async tail(events, env, ctx) {
    // Nothing may escape tail(): a forwarder that throws loses the whole batch.
    try {
      const items = select(events, env);
      if (items.length === 0) return;
      const bodies = split(items, number(env.MAX_PAYLOAD_BYTES, 1_000_000));
      ctx.waitUntil(deliverAll(bodies, env));
    } catch (error) {
      console.error(`tail-forwarder: ${error && error.stack ? error.stack : error}`);
    }
  },
};

function number(value, fallback) {
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : fallback;
}

// Sampling and the minimum level; invocations that failed are always kept whole.
export function select(events, env) {
  const minimum = LEVEL_RANK[String(env.MIN_LEVEL || "debug").toLowerCase()] ?? 0;
  const rate = Math.min(1, number(env.SAMPLE_RATE, 1));
  const kept = [];
  for (const item of events) {
    const failed = item.outcome !== "ok" || (item.exceptions || []).length > 0;
    if (!failed && rate < 1 && Math.random() >= rate) continue;
    const logs = (item.logs || []).filter((log) => (LEVEL_RANK[log.level] ?? 1) >= minimum);
    if (!failed && logs.length === 0) continue;
    kept.push({ ...item, logs });
  }
  return kept;
}

// JSON bodies under maxBytes: items are grouped, and an item with too many logs is
// repeated with its logs spread over several bodies (exceptions go with the first part).
export function split(items, maxBytes) {
  const bodies = [];
  let current = [];
  let size = 2;
  const push = (part) => {
    const bytes = byteLength(JSON.stringify(part)) + 1;
    if (current.length > 0 && size + bytes > maxBytes) {
      bodies.push(JSON.stringify(current));
      current = [];
      size = 2;
    }
    current.push(part);
    size += bytes;
  };
  for (const item of items) {
    if (byteLength(JSON.stringify(item)) + 2 <= maxBytes) {
      push(item);
      continue;
    }
    let part = { ...item, logs: [] };
    let partSize = byteLength(JSON.stringify(part));
    for (const log of item.logs || []) {
      const logSize = byteLength(JSON.stringify(log)) + 1;
      if (part.logs.length > 0 && partSize + logSize + 2 > maxBytes) {
        push(part);
        part = { ...item, exceptions: [], logs: [] };
        partSize = byteLength(JSON.stringify(part));
      }
      part.logs.push(log);
      partSize += logSize;
    }
    push(part);
  }
  if (current.length > 0) bodies.push(JSON.stringify(current));
  return bodies;
}

function byteLength(text) {
  return new TextEncoder().encode(text).length;
}

async function deliverAll(bodies, env) {
  for (const body of bodies) {
    const delivered = await deliver(body, env);
    if (!delivered) console.error("tail-forwarder: gave up on a batch of trace items");
  }
}

// POST with retries: exponential backoff with full jitter on 408/425/429/5xx and network
// errors; a refusal (400, 401, 413, ...) is not retried.
export async function deliver(body, env) {
  const attempts = number(env.MAX_ATTEMPTS, 4);
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const response = await fetch(env.LOGS_ENDPOINT, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: `Bearer ${env.LOGS_API_KEY}`,
        },
        body,
      });
      if (response.ok) return true;
      if (!RETRYABLE.has(response.status)) {
        console.error(`tail-forwarder: refused with HTTP ${response.status}`);
        return false;
      }
    } catch (error) {
      // network failure: retried below
    }
    if (attempt + 1 < attempts) {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 200 * 2 ** attempt));
    }
  }
  return false;
}
