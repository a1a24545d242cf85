// Tail Worker: forwards the TraceItems of the Workers it is attached to (console calls,
// exceptions, outcomes) to logsService's POST /api/v1/logs/tail.
//
// Settings (wrangler.toml [vars], or `wrangler secret put` for the key):
//   LOGS_ENDPOINT      the service's tail URL, e.g. https://logs.example.com/api/v1/logs/tail
//   LOGS_API_KEY       secret: the Bearer key
//   MIN_LEVEL          drop console calls below: debug (default), info, warn or error
//   SAMPLE_RATE        keep this share of invocations (default 1); failures are always kept
//   MAX_PAYLOAD_BYTES  split requests above this size (default 1,000,000)
//   RETRY_SECONDS      keep retrying a request for this long (default 25): the runtime lets
//                      waitUntil() work run about 30 s after tail() returns
//   MAX_ATTEMPTS       at most this many tries per request (default: no limit but time)

const LEVEL_RANK = { debug: 0, log: 1, info: 1, warn: 2, error: 3 };
const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);
const MAX_BACKOFF_MS = 4000;

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

// What the service keeps of an event (logsvc/sources/cloudflare_tail.py); request headers
// (cookies, authorization) and the rest of request.cf are never sent.
const EVENT_KEYS = ["cron", "queue", "batchSize", "rpcMethod", "scheduledTime", "mailFrom"];
const ITEM_KEYS = [
  "scriptName",
  "eventTimestamp",
  "outcome",
  "truncated",
  "scriptVersion",
  "entrypoint",
  "cpuTime",
  "wallTime",
  "executionModel",
  "dispatchNamespace",
  "scriptTags",
];

export function trim(item) {
  const kept = {};
  for (const key of ITEM_KEYS) if (item[key] !== undefined) kept[key] = item[key];
  kept.logs = (item.logs || []).map(({ level, message, timestamp }) => ({
    level,
    message,
    timestamp,
  }));
  kept.exceptions = (item.exceptions || []).map(({ name, message, stack, timestamp }) => ({
    name,
    message,
    stack,
    timestamp,
  }));
  const event = item.event || {};
  kept.event = {};
  for (const key of EVENT_KEYS) if (event[key] !== undefined) kept.event[key] = event[key];
  // Only the kind of these events matters to the service, not their contents.
  if (event.consumedEvents !== undefined) kept.event.consumedEvents = [];
  if (event.getWebSocketEvent !== undefined || event.webSocketEventType !== undefined) {
    kept.event.webSocketEventType = event.webSocketEventType || "message";
  }
  if (event.request) {
    const cf = event.request.cf || {};
    kept.event.request = { method: event.request.method, url: event.request.url };
    if (cf.colo || cf.country) kept.event.request.cf = { colo: cf.colo, country: cf.country };
  }
  if (event.response) kept.event.response = { status: event.response.status };
  return kept;
}

// Sampling and the minimum level; invocations that failed are always kept whole.
export function select(events, env) {
  const minimum = LEVEL_RANK[String(env.MIN_LEVEL || "debug").toLowerCase()] ?? 0;
  const rate = Math.min(1, number(env.SAMPLE_RATE, 1));
  const kept = [];
  for (const item of events) {
    const failed = item.outcome !== "ok" || (item.exceptions || []).length > 0;
    if (!failed && rate < 1 && Math.random() >= rate) continue;
    const trimmed = trim(item);
    trimmed.logs = trimmed.logs.filter((log) => (LEVEL_RANK[log.level] ?? 1) >= minimum);
    if (!failed && trimmed.logs.length === 0) continue;
    kept.push(trimmed);
  }
  return kept;
}

// JSON bodies under maxBytes: items are grouped, and an item with too many logs is
// repeated with its logs spread over several bodies. The first part carries the exceptions;
// later parts are marked "continuation", so the service reports the outcome once.
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
        part = { ...item, exceptions: [], logs: [], continuation: true };
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
  // Bodies go out together: each has the whole retry window, not what the ones before left.
  const deadline = Date.now() + 1000 * number(env.RETRY_SECONDS, 25);
  const results = await Promise.all(bodies.map((body) => deliver(body, env, deadline)));
  const lost = results.filter((delivered) => !delivered).length;
  if (lost > 0) console.error(`tail-forwarder: gave up on ${lost} batch(es) of trace items`);
}

// POST with retries until the deadline: exponential backoff with full jitter on
// 408/425/429/5xx and network errors, or the Retry-After the service asks for; a refusal
// (400, 401, 413, ...) is not retried. One Idempotency-Key per body, so a retry after a
// lost answer stores nothing twice.
export async function deliver(body, env, deadline) {
  const attempts = number(env.MAX_ATTEMPTS, Number.POSITIVE_INFINITY);
  const key = crypto.randomUUID();
  for (let attempt = 0; attempt < attempts; attempt++) {
    let wait = Math.random() * Math.min(MAX_BACKOFF_MS, 250 * 2 ** attempt);
    try {
      const response = await fetch(env.LOGS_ENDPOINT, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: `Bearer ${env.LOGS_API_KEY}`,
          "Idempotency-Key": key,
        },
        body,
      });
      if (response.ok) return true;
      if (!RETRYABLE.has(response.status)) {
        console.error(`tail-forwarder: refused with HTTP ${response.status}`);
        return false;
      }
      const asked = Number(response.headers.get("Retry-After"));
      if (Number.isFinite(asked) && asked > 0) wait = asked * 1000;
    } catch (error) {
      // network failure (the service is restarting, say): retried below
    }
    if (attempt + 1 >= attempts || Date.now() + wait > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return false;
}
