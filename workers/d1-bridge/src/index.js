// D1 bridge: batch SQL over HTTP against a D1 binding, for services outside Cloudflare.
// Requests are signed: X-Bridge-Signature = hex(HMAC-SHA256(BRIDGE_SECRET,
// timestamp + "\n" + nonce + "\n" + body)); a timestamp more than MAX_SKEW_SECONDS away,
// or a nonce already seen by this isolate, is refused. Answers use D1's REST envelope.
//   POST /query  {"sql": "...", "params": [...]}  or  {"batch": [{"sql", "params"}, ...]}
// A batch runs as one transaction (D1's batch()). /query uses the DB binding; /query/NAME
// another D1 binding (an index shard: INDEX_SHARD_URLS=d1-bridge+https://<worker>/query/NAME).
// A body may come gzip-compressed (Content-Encoding: gzip; signed as sent, checked before
// it is inflated): every answer says so in X-Bridge-Accept-Encoding, and the Python client
// compresses once it has seen that, so a client newer than its bridge keeps working.

const MAX_SKEW_SECONDS = 60;
const MAX_INFLATED_BYTES = 32 * 1024 * 1024; // far above any batch the service sends
const seenNonces = new Map(); // nonce -> expiry (ms); per isolate, best effort

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const route = /^\/query(?:\/([A-Z][A-Z0-9_]{0,63}))?$/.exec(url.pathname);
    if (request.method !== "POST" || !route) {
      return envelope(404, [{ code: 7404, message: "POST /query or /query/<D1 binding>" }]);
    }
    const db = env[route[1] ?? "DB"];
    if (!db || typeof db.prepare !== "function" || route[1] === "BRIDGE_SECRET") {
      return envelope(404, [{ code: 7404, message: `no D1 binding ${route[1]}` }]);
    }
    const encoding = (request.headers.get("Content-Encoding") || "identity").toLowerCase();
    if (encoding !== "identity" && encoding !== "gzip") {
      return envelope(415, [{ code: 7415, message: "Content-Encoding: gzip or none" }]);
    }
    const sent = await request.arrayBuffer();
    if (!(await authentic(request.headers, sent, env.BRIDGE_SECRET))) {
      return envelope(401, [{ code: 10000, message: "bad or stale signature" }]);
    }
    let payload;
    try {
      const body = encoding === "gzip" ? await inflated(sent) : sent;
      if (body === null) {
        return envelope(413, [{ code: 7413, message: `body over ${MAX_INFLATED_BYTES} bytes inflated` }]);
      }
      payload = JSON.parse(new TextDecoder().decode(body));
    } catch {
      return envelope(400, [{ code: 7400, message: "body is not JSON (or not gzip)" }]);
    }
    try {
      const statements = payload.batch ?? [payload];
      const prepared = statements.map((s) => db.prepare(s.sql).bind(...(s.params ?? [])));
      const results = statements.length === 1 ? [await prepared[0].all()] : await db.batch(prepared);
      return envelope(200, [], results.map((r) => ({ results: r.results ?? [], success: true, meta: r.meta ?? {} })));
    } catch (error) {
      return envelope(400, [{ code: 7500, message: String(error && error.message ? error.message : error) }]);
    }
  },
};

function envelope(status, errors, result = []) {
  return Response.json(
    { result, success: errors.length === 0, errors, messages: [] },
    { status, headers: { "X-Bridge-Accept-Encoding": "gzip" } },
  );
}

// The gzip body inflated, or null past MAX_INFLATED_BYTES (read no further than that).
async function inflated(body) {
  const reader = new Blob([body]).stream().pipeThrough(new DecompressionStream("gzip")).getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_INFLATED_BYTES) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const whole = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.byteLength;
  }
  return whole;
}

async function authentic(headers, body, secret) {
  const timestamp = headers.get("X-Bridge-Timestamp") || "";
  const nonce = headers.get("X-Bridge-Nonce") || "";
  const signature = headers.get("X-Bridge-Signature") || "";
  if (!secret || !/^\d+$/.test(timestamp) || !/^[0-9a-f]{16,64}$/.test(nonce)) return false;
  const now = Date.now();
  if (Math.abs(now / 1000 - Number(timestamp)) > MAX_SKEW_SECONDS) return false;
  for (const [seen, expiry] of seenNonces) if (expiry < now) seenNonces.delete(seen);
  if (seenNonces.has(nonce) || !/^[0-9a-f]{64}$/.test(signature)) return false;
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const prefix = new TextEncoder().encode(`${timestamp}\n${nonce}\n`);
  const message = new Uint8Array(prefix.length + body.byteLength);
  message.set(prefix, 0);
  message.set(new Uint8Array(body), prefix.length);
  const bytes = new Uint8Array(signature.match(/../g).map((h) => parseInt(h, 16)));
  const valid = await crypto.subtle.verify("HMAC", key, bytes, message); // constant time
  if (valid) seenNonces.set(nonce, now + 2 * MAX_SKEW_SECONDS * 1000);
  return valid;
}
