// The logsvc console: the native API, from the same origin, with the key in sessionStorage.
import { setUpAsk } from "./ask.js";

// Everything a user picks lives in the URL (range, service, q, levels, filters), so a link
// shares the view. Text from logs is only ever set as textContent, never parsed as HTML.

const LEVELS = ["DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"];
const RANGES = { "15m": 15 * 60e3, "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3 };
const PAGE = 1000; // the API's most per search
// The list is windowed: rows have one height, and only those in view (and a few around)
// are in the page, so ten thousand entries scroll as smoothly as ten.
const ROW_PX = 26;
const OVERSCAN = 20;
const KEY = "logsvc.key";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const BUCKETS = 60;
// range is a preset, or "custom" with from and to (Unix ms) picked on the histogram.
const state = { range: "1h", from: 0, to: 0, service: "", q: "", levels: [], filters: [], offset: 0, ask: "" };
let askOnSignIn = () => {}; // a shared link's question, asked once signed in
let tail = null;
let shown = []; // every entry in the list, newest first
let selected = null; // the id of the entry whose fields the side panel shows
let runs = 0; // the latest run's number: an older run's answer arriving later is dropped

function element(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

// -- the URL holds the view ---------------------------------------------------------------

function readUrl() {
  const params = new URLSearchParams(location.search);
  state.range = RANGES[params.get("range")] ? params.get("range") : "1h";
  const from = Number(params.get("from"));
  const to = Number(params.get("to"));
  if (from > 0 && to > from) Object.assign(state, { range: "custom", from, to });
  state.service = params.get("service") || "";
  state.q = params.get("q") || "";
  state.levels = (params.get("levels") || "").split(",").filter((l) => LEVELS.includes(l));
  state.filters = params.getAll("filter");
  state.ask = params.get("ask") || "";
}

function writeUrl() {
  const params = new URLSearchParams();
  if (state.range === "custom") {
    params.set("from", String(state.from));
    params.set("to", String(state.to));
  } else if (state.range !== "1h") params.set("range", state.range);
  if (state.service) params.set("service", state.service);
  if (state.q) params.set("q", state.q);
  if (state.levels.length) params.set("levels", state.levels.join(","));
  for (const f of state.filters) params.append("filter", f);
  if (state.ask) params.set("ask", state.ask);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

// -- the API --------------------------------------------------------------------------

async function api(path, params = [], method = "GET", body = undefined) {
  const query = new URLSearchParams(params).toString();
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(query ? `${path}?${query}` : path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return {};
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(answer.error || answer.message || `HTTP ${response.status}`);
    error.answer = answer; // what else the API said (the ask route's suggestions)
    throw error;
  }
  return answer;
}

function timeWindow() {
  if (state.range === "custom") return [state.from, state.to];
  const end = Date.now();
  return [end - RANGES[state.range], end];
}

function searchParams(level, offset) {
  const [start, end] = timeWindow();
  const params = [
    ["start_time", String(start)],
    ["end_time", String(end)],
    ["limit", String(PAGE)],
    ["offset", String(offset)],
  ];
  if (state.service) params.push(["service", state.service]);
  if (state.q) params.push(["q", state.q]);
  if (level) params.push(["level", level]);
  for (const f of state.filters) params.push(["filter", f]);
  return params;
}

// Several levels are several searches (the API takes one level), merged newest first.
async function search(offset) {
  const levels = state.levels.length ? state.levels : [null];
  const answers = await Promise.all(levels.map((l) => api("/api/v1/logs/search", searchParams(l, offset))));
  const logs = answers.flatMap((a) => a.logs).sort((a, b) => b.timestamp - a.timestamp || (a.id < b.id ? 1 : -1));
  const parts = answers.map((a) => a.archive).filter(Boolean);
  const unfinished = parts.find((p) => p.status !== "complete");
  return { logs, more: answers.some((a) => a.has_more), archived: parts.length > 0, unfinished };
}

// What the summary line says of the archive: how many entries came from it, and when it
// could not answer in full (a timeout, unreadable objects, a scan limit, still running).
function archiveNote(logs, archived, unfinished) {
  if (!archived) return "";
  const count = logs.filter((e) => e.tier === "archive").length;
  const status = unfinished ? `; archive ${unfinished.status}: ${unfinished.reason || "try again"}` : "";
  return `, ${count} from the archive${status}`;
}

// -- rendering ------------------------------------------------------------------------

function highlighted(text) {
  const span = element("span", { class: "message" });
  const needle = state.q.toLowerCase();
  if (!needle) {
    span.textContent = text;
    return span;
  }
  const lower = text.toLowerCase();
  let at = 0;
  for (let found = lower.indexOf(needle); found !== -1; found = lower.indexOf(needle, at)) {
    span.append(text.slice(at, found), element("mark", { text: text.slice(found, found + needle.length) }));
    at = found + needle.length;
  }
  span.append(text.slice(at));
  return span;
}

function localInput(ms) {
  const date = new Date(ms - new Date(ms).getTimezoneOffset() * 60e3);
  return date.toISOString().slice(0, 19);
}

// "1 entry", "3 entries".
function count(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

function relative(timestamp) {
  const seconds = Math.round((Date.now() - timestamp) / 1000);
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86400)}d ago`;
}

function flatten(value, prefix, into) {
  for (const [key, item] of Object.entries(value || {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (item && typeof item === "object" && !Array.isArray(item)) flatten(item, path, into);
    else into.push([path, item]);
  }
  return into;
}

function filterButton(label, filter) {
  return element("button", {
    type: "button",
    text: label,
    "aria-label": `${label}: ${filter}`,
    onclick: () => {
      if (!state.filters.includes(filter)) state.filters.push(filter);
      run();
    },
  });
}

// A message of several lines (a stack trace): the row shows its first line and how many
// more there are; the entry panel and the archived entry show it whole, line by line.
function lineCount(text) {
  return text.split("\n").length;
}

function details(entry) {
  const message = element("pre", { class: "message", "aria-label": "Message", text: entry.message });
  const rows = [
    ["id", entry.id],
    ["service_name", entry.service_name],
    ["level", entry.level],
    ["timestamp", new Date(entry.timestamp).toISOString()],
    ["source_type", entry.source_type],
  ].map(([name, value]) => element("tr", {}, element("th", { scope: "row", text: name }), element("td", { class: "token", colspan: "2", text: String(value) })));
  for (const [path, value] of flatten(entry.metadata, "", [])) {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    const field = `metadata.${path}`;
    const actions = element("td", {}, filterButton("Filter for", `${field}=${text}`), filterButton("Filter out", `${field}!=${text}`));
    rows.push(element("tr", {}, element("th", { scope: "row", text: field }), element("td", { text }), actions));
  }
  const full = element("pre", { class: "full", hidden: "" });
  const load = element("button", {
    type: "button",
    text: "Full archived entry",
    onclick: async () => {
      try {
        // The message as its lines, then the rest of the archived entry as JSON.
        const { message: text, ...rest } = await api(`/api/v1/logs/logs/${encodeURIComponent(entry.id)}/full`);
        full.textContent = `${text}\n\n${JSON.stringify(rest, null, 2)}`;
      } catch (error) {
        full.textContent = error.message;
      }
      full.hidden = false;
    },
  });
  const around = element("ol", { class: "context", "aria-label": "Context", hidden: "" });
  const context = element("button", {
    type: "button",
    text: "Context",
    onclick: async () => {
      around.replaceChildren(...(await contextOf(entry)).map((e) => element("li", { class: e.id === entry.id ? "here" : "" }, `${new Date(e.timestamp).toISOString()} ${e.level} ${e.message}`)));
      around.hidden = false;
    },
  });
  return element("div", { class: "details" }, message, element("table", {}, element("tbody", {}, ...rows)), load, context, full, around);
}

// The entries of the same service just before and after one (whatever the filters), oldest
// first: ten before, the entry, and the ten nearest after it within the next hour.
async function contextOf(entry) {
  const service = ["service", entry.service_name];
  const before = await api("/api/v1/logs/search", [service, ["end_time", String(entry.timestamp)], ["limit", "11"]]);
  const after = await api("/api/v1/logs/search", [
    service,
    ["start_time", String(entry.timestamp)],
    ["end_time", String(entry.timestamp + 3600e3)],
    ["limit", "1000"],
  ]);
  const seen = new Set();
  return [...after.logs.slice(-11), ...before.logs]
    .filter((e) => !seen.has(e.id) && seen.add(e.id))
    .sort((a, b) => a.timestamp - b.timestamp);
}

function row(entry, position) {
  const time = new Date(entry.timestamp);
  const lines = lineCount(entry.message);
  const open = entry.id === selected;
  const toggle = element(
    "button",
    { type: "button", class: "toggle", "aria-expanded": String(open), "aria-controls": "entry", "aria-label": "Show every field" },
    open ? "▾" : "▸",
  );
  toggle.addEventListener("click", () => select(open ? null : entry));
  return element(
    "li",
    {
      class: `entry level-${entry.level.toLowerCase()}${open ? " selected" : ""}`,
      ...(open ? { "aria-current": "true" } : {}),
      "aria-setsize": String(shown.length),
      "aria-posinset": String(position + 1),
    },
    toggle,
    element("time", { datetime: time.toISOString(), title: time.toISOString(), text: relative(entry.timestamp) }),
    element("span", { class: "level", text: entry.level }),
    element("span", { class: "service", text: entry.service_name }),
    ...(lines > 1 ? [element("span", { class: "more", text: `+${lines - 1} lines` })] : []),
    highlighted(entry.message.split("\n", 1)[0]),
  );
}

// Only the rows in view are in the page; the list's padding stands for the others.
function renderRows() {
  const scroller = $("scroller");
  const list = $("logs");
  const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_PX) - OVERSCAN);
  const count = Math.ceil(scroller.clientHeight / ROW_PX) + 2 * OVERSCAN;
  const last = Math.min(shown.length, first + count);
  list.style.paddingTop = `${first * ROW_PX}px`;
  list.style.height = `${shown.length * ROW_PX}px`;
  list.replaceChildren(...shown.slice(first, last).map((entry, i) => row(entry, first + i)));
}

// The keyboard in the list: down and up (or j and k) select the next or previous entry and
// show it, Page Down and Page Up a screenful, Home and End the ends, Escape closes it.
function move(delta) {
  if (!shown.length) return;
  const at = shown.findIndex((entry) => entry.id === selected);
  const next = Math.min(shown.length - 1, Math.max(0, (at < 0 ? -1 : at) + delta));
  const scroller = $("scroller");
  const top = next * ROW_PX;
  if (top < scroller.scrollTop) scroller.scrollTop = top;
  else if (top + ROW_PX > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = top + ROW_PX - scroller.clientHeight;
  select(shown[next]);
}

function listKeys(event) {
  const page = Math.max(1, Math.floor($("scroller").clientHeight / ROW_PX) - 1);
  const moves = { ArrowDown: 1, j: 1, ArrowUp: -1, k: -1, PageDown: page, PageUp: -page, Home: -Infinity, End: Infinity };
  if (event.key in moves) move(moves[event.key]);
  else if (event.key === "Escape") select(null);
  else return;
  event.preventDefault();
}

function select(entry) {
  selected = entry ? entry.id : null;
  const panel = $("entry");
  panel.hidden = !entry;
  panel.replaceChildren(...(entry ? [element("h2", { text: "Entry" }), details(entry)] : []));
  renderRows();
}

function renderFilters() {
  const box = $("active-filters");
  box.replaceChildren(
    ...state.filters.map((f) =>
      element("button", {
        type: "button",
        class: "chip",
        text: `${f} ✕`,
        "aria-label": `Remove filter ${f}`,
        onclick: () => {
          state.filters = state.filters.filter((x) => x !== f);
          run();
        },
      }),
    ),
  );
}

function renderLevels() {
  $("levels").replaceChildren(
    ...LEVELS.map((level) =>
      element("button", {
        type: "button",
        class: `chip level-${level.toLowerCase()}`,
        text: level,
        "aria-pressed": String(state.levels.includes(level)),
        onclick: () => {
          state.levels = state.levels.includes(level) ? state.levels.filter((l) => l !== level) : [...state.levels, level];
          run();
        },
      }),
    ),
  );
}

// The volume histogram: counts per level and bucket of what the list shows, from the Loki
// API's metric query: the service, levels, text search and field filters as LogQL.
const REGEX_SPECIAL = /[.*+?^${}()|[\]\\]/g;
const regexOf = (text) => text.replace(REGEX_SPECIAL, "\\$&");
const LABEL = /^[A-Za-z_][A-Za-z0-9_]*$/;

// A native field filter (metadata.http.status>=500) as a LogQL label filter with its
// meaning: text ignoring case, numbers compared as numbers, absent and present; null when
// LogQL cannot say it (the chart then says it leaves the filter out).
function labelFilterOf(filter) {
  const found = /^(!?)metadata((?:\.[A-Za-z0-9_-]+)+)(?:(!=|>=|<=|~=|=|>|<)(.*))?$/s.exec(filter);
  if (!found) return null;
  const [, negate, path, op, value] = found;
  const keys = path.slice(1).split(".");
  // Pushed labels are stream labels of their own name; other keys are joined with _.
  const name = keys[0] === "labels" && keys.length === 2 ? keys[1] : keys.join("_");
  if (!LABEL.test(name)) return null;
  if (!op) return negate ? `${name}=""` : `${name}!=""`;
  if (negate) return null;
  const text = JSON.stringify(`(?i)${regexOf(value)}`);
  if (op === "=") return `${name}=~${text}`;
  if (op === "!=") return `${name}!~${text}`;
  if (op === "~=") return `${name}=~${JSON.stringify(`(?i).*${regexOf(value)}.*`)}`;
  return /^-?\d+(\.\d+)?$/.test(value) ? `${name}${op}${value}` : null;
}

function volumeQuery() {
  const matchers = [];
  if (state.service) matchers.push(`service_name=${JSON.stringify(state.service)}`);
  const levels = state.levels.length ? state.levels.map((l) => l.toLowerCase()).join("|") : ".+";
  matchers.push(`level=~${JSON.stringify(levels)}`);
  const stages = [];
  if (state.q) stages.push(`|~ ${JSON.stringify(`(?i)${regexOf(state.q)}`)}`);
  const left = [];
  for (const filter of state.filters) {
    const label = labelFilterOf(filter);
    if (label) stages.push(`| ${label}`);
    else left.push(filter);
  }
  // A value that is no number fails a numeric filter instead of refusing the metric.
  if (stages.some((stage) => stage.startsWith("| "))) stages.push('| __error__=""');
  const selector = `{${matchers.join(", ")}}${stages.map((stage) => ` ${stage}`).join("")}`;
  return { query: `sum by (level) (count_over_time(${selector} [STEP]))`, left };
}

// Buckets that cover the list's range exactly: each point counts (t - step, t], the first
// ends one step after a millisecond before the start (search includes start_time and
// end_time), the last at or just past the end (the range over BUCKETS, rounded up to a
// millisecond: at most BUCKETS ms past it).
function buckets(start, end) {
  const step = Math.max(1, Math.ceil((end - start + 1) / BUCKETS));
  return { step, first: start - 1 + step, last: start - 1 + BUCKETS * step };
}

async function renderHistogram(number) {
  const [start, end] = timeWindow();
  const { step, first, last } = buckets(start, end);
  const { query, left } = volumeQuery();
  const svg = $("histogram");
  let answer;
  try {
    answer = await api("/loki/api/v1/query_range", [
      ["query", query.replace("STEP", `${step}ms`)],
      ["start", `${first}000000`],
      ["end", `${last}000000`],
      ["step", `${step}ms`],
    ]);
  } catch (error) {
    if (number === runs) $("histogram-caption").textContent = `Volume unavailable: ${error.message}`;
    return;
  }
  if (number !== runs) return; // a newer run draws its own
  const counted = new Map();
  for (const series of answer.data.result) {
    for (const [seconds, value] of series.values) {
      const at = Math.round(seconds * 1000);
      const bucket = counted.get(at) || {};
      bucket[series.metric.level] = Number(value);
      counted.set(at, bucket);
    }
  }
  const totals = [...counted.values()].map((b) => Object.values(b).reduce((x, y) => x + y, 0));
  const highest = Math.max(1, ...totals);
  const width = 600 / BUCKETS;
  const bars = [];
  for (const [at, counts] of counted) {
    const x = ((at - step + 1 - start) / (BUCKETS * step)) * 600;
    let y = 80;
    for (const level of LEVELS) {
      const count = counts[level.toLowerCase()] || 0;
      if (!count) continue;
      const height = (count / highest) * 78;
      y -= height;
      const bar = document.createElementNS(SVG, "rect");
      for (const [name, value] of Object.entries({ x, y, width: Math.max(1, width - 1), height, class: `bar-${level.toLowerCase()}` })) {
        bar.setAttribute(name, String(value));
      }
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${new Date(at - step + 1).toLocaleString()} to ${new Date(at).toLocaleTimeString()}: ${count} ${level}`;
      bar.append(title);
      bars.push(bar);
    }
  }
  svg.replaceChildren(...bars);
  svg.dataset.start = String(start);
  svg.dataset.end = String(start + BUCKETS * step);
  renderAxis(start, start + BUCKETS * step, highest);
  const total = totals.reduce((x, y) => x + y, 0);
  const without = left.length ? ` (the chart leaves out ${left.join(", ")})` : "";
  $("histogram-caption").textContent = `${count(total, "entry", "entries")} from ${new Date(start).toISOString()} to ${new Date(end).toISOString()}${without}; drag across the chart to zoom.`;
}

// Under the chart: five times across it, the tallest bar's count, and the levels' colours.
function renderAxis(start, end, highest) {
  const day = end - start > 86400e3;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((share) => {
    const at = new Date(start + share * (end - start));
    const text = day ? at.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }) : at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: end - start < 3600e3 ? "2-digit" : undefined });
    const tick = element("span", { text });
    tick.style.left = `${share * 100}%`; // through the CSSOM: the page's policy allows no style attribute
    return tick;
  });
  $("histogram-axis").replaceChildren(...ticks);
  $("histogram-legend").replaceChildren(
    element("li", { class: "peak", text: `tallest bar: ${highest}` }),
    ...LEVELS.map((level) => element("li", { class: `key key-${level.toLowerCase()}`, text: level })),
  );
}

function zoomable() {
  const svg = $("histogram");
  let from = null;
  const at = (event) => {
    const box = svg.getBoundingClientRect();
    const share = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    const start = Number(svg.dataset.start);
    return Math.round(start + share * (Number(svg.dataset.end) - start));
  };
  svg.addEventListener("pointerdown", (event) => {
    from = at(event);
  });
  svg.addEventListener("pointerup", (event) => {
    if (from === null) return;
    const to = at(event);
    const [low, high] = [Math.min(from, to), Math.max(from, to)];
    from = null;
    if (high - low < 1000) return;
    Object.assign(state, { range: "custom", from: low, to: high });
    run();
  });
}

// The fields panel: the metadata keys of the entries shown, the most common first, each
// with how many entries have it and its top values; a box finds the others by name.
const FIELDS_SHOWN = 30;
let fieldsOf = [];

function renderFields(entries) {
  fieldsOf = entries;
  const values = new Map();
  for (const entry of entries) {
    for (const [path, value] of flatten(entry.metadata, "", [])) {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      const counts = values.get(path) || new Map();
      counts.set(text, (counts.get(text) || 0) + 1);
      values.set(path, counts);
    }
  }
  const wanted = $("field-search").value.trim().toLowerCase();
  const found = [...values.entries()]
    .map(([path, counts]) => [path, counts, [...counts.values()].reduce((a, b) => a + b, 0)])
    .filter(([path]) => !wanted || path.toLowerCase().includes(wanted))
    .sort((a, b) => b[2] - a[2] || (a[0] < b[0] ? -1 : 1));
  const sections = found.slice(0, FIELDS_SHOWN).map(([path, counts, seen]) => {
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
    const distinct = counts.size === 1 ? "1 value" : `${counts.size} values`;
    return element(
      "details",
      {},
      element("summary", { text: `metadata.${path}`, title: `in ${seen} of ${entries.length} entries, ${distinct}` }, element("span", { class: "seen", text: ` ${seen} of ${entries.length} · ${distinct}` })),
      element(
        "ul",
        {},
        ...top.map(([text, count]) =>
          element("li", {}, filterButton(`${text} (${count})`, `metadata.${path}=${text}`)),
        ),
      ),
    );
  });
  if (found.length > FIELDS_SHOWN) {
    sections.push(element("p", { class: "hint", text: `${found.length - FIELDS_SHOWN} more fields: type in the box to find them.` }));
  }
  const none = values.size ? "No field matches." : "No metadata in these entries.";
  $("fields").replaceChildren(...(sections.length ? sections : [element("p", { text: none })]));
}

function sparkline(counts) {
  const svg = document.createElementNS(SVG, "svg");
  const highest = Math.max(1, ...counts);
  svg.setAttribute("viewBox", `0 0 ${counts.length * 3} 16`);
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `entries over the window: ${counts.join(", ")}`);
  counts.forEach((count, i) => {
    const bar = document.createElementNS(SVG, "rect");
    const height = (count / highest) * 16;
    for (const [name, value] of Object.entries({ x: i * 3, y: 16 - height, width: 2, height })) bar.setAttribute(name, String(value));
    svg.append(bar);
  });
  return svg;
}

// Patterns: the error templates of the chosen service, each a search away.
async function renderPatterns() {
  const table = $("patterns");
  if (!state.service) {
    table.replaceChildren(element("caption", { text: "Choose a service to see its error patterns." }));
    return;
  }
  const [start, end] = timeWindow();
  try {
    const answer = await api(`/api/v1/logs/patterns/${encodeURIComponent(state.service)}`, [
      ["start_time", String(start)],
      ["end_time", String(end)],
    ]);
    const head = element("tr", {}, ...["Pattern", "Count", "Share", "Seen", "Over time", ""].map((t) => element("th", { scope: "col", text: t })));
    const body = answer.patterns.map((pattern) => {
      const words = pattern.template.split(/<[^>]*>/).map((w) => w.trim()).sort((a, b) => b.length - a.length)[0] || "";
      return element(
        "tr",
        {},
        element("td", { text: pattern.template }),
        element("td", { text: String(pattern.count) }),
        element("td", { text: `${Math.round(pattern.share * 100)}%` }),
        element("td", { class: "seen", text: `${relative(pattern.first_seen).replace(" ago", "")} to ${relative(pattern.last_seen)}` }),
        element("td", {}, sparkline(pattern.timeline)),
        element("td", {}, element("button", { type: "button", text: "Search", "aria-label": `Search for ${words}`, onclick: () => { state.q = words; $("search").value = words; run(); } })),
      );
    });
    table.replaceChildren(element("caption", { text: `${count(answer.entries_analyzed, "error entry", "error entries")} analyzed` }), element("thead", {}, head), element("tbody", {}, ...body));
  } catch (error) {
    table.replaceChildren(element("caption", { text: error.message }));
  }
}

// -- the services view ------------------------------------------------------------------

async function renderServices() {
  const { services } = await api("/api/v1/logs/services");
  const cards = await Promise.all(
    services.map(async (service) => {
      const stats = await api(`/api/v1/logs/stats/${encodeURIComponent(service.service_name)}`);
      const day = stats.last_24h;
      const errors = day.levels.ERROR + day.levels.CRITICAL;
      const rate = day.total ? Math.round((errors / day.total) * 1000) / 10 : 0;
      return element(
        "li",
        { class: "card" },
        element("h3", { text: service.service_name }),
        element("p", { text: `${count(service.log_count, "entry", "entries")}; ${day.total} in 24 h; errors ${rate}%; last seen ${relative(service.last_seen)}` }),
        element("button", { type: "button", text: "Open", "aria-label": `Open ${service.service_name}`, onclick: () => openService(service.service_name) }),
        element("a", { href: `?service=${encodeURIComponent(service.service_name)}`, text: "Search its logs" }),
      );
    }),
  );
  $("service-cards").replaceChildren(...cards);
}

const CONFIG_NUMBERS = ["ttl_days", "max_logs_per_day", "archive_ttl_days", "debug_sample_rate", "info_sample_rate"];

async function openService(name) {
  const page = $("service-page");
  const save = $("config-form").querySelector("button[type=submit]");
  save.disabled = true; // until this service's config is in the form
  page.hidden = false;
  page.dataset.service = name;
  $("service-title").textContent = name;
  const stats = await api(`/api/v1/logs/stats/${encodeURIComponent(name)}`);
  $("service-stats").replaceChildren(
    ...[["Total", stats.total], ["Last 24 h", stats.last_24h.total], ...LEVELS.map((l) => [l, stats.levels[l]])].flatMap(([term, value]) => [
      element("dt", { text: term }),
      element("dd", { text: String(value) }),
    ]),
  );
  const config = await api(`/api/v1/logs/config/${encodeURIComponent(name)}`);
  for (const field of CONFIG_NUMBERS) $(field).value = config[field] ?? "";
  $("retention_policy").value = config.retention_policy ?? "";
  $("alert_on_errors").checked = config.alert_on_errors;
  $("config-status").textContent = `Cleanup keeps ${config.effective_ttl_days} days in the index, ${config.effective_archive_ttl_days} in the archive.`;
  save.disabled = false;
  const analysis = await api(`/api/v1/logs/analysis/${encodeURIComponent(name)}`, [["limit", "1"]]);
  $("analysis").textContent = analysis.latest
    ? `${analysis.latest.severity}: ${analysis.latest.summary} (${relative(analysis.latest.analyzed_at)})`
    : "No analysis yet.";
}

async function saveConfig(event) {
  event.preventDefault();
  const name = $("service-page").dataset.service;
  const number = (id) => ($(id).value === "" ? null : Number($(id).value));
  const update = {
    ttl_days: number("ttl_days"),
    max_logs_per_day: number("max_logs_per_day"),
    archive_ttl_days: number("archive_ttl_days"),
    retention_policy: $("retention_policy").value || null,
    debug_sample_rate: number("debug_sample_rate"),
    info_sample_rate: number("info_sample_rate"),
    alert_on_errors: $("alert_on_errors").checked,
  };
  try {
    const saved = await api(`/api/v1/logs/config/${encodeURIComponent(name)}`, [], "PUT", update);
    $("config-status").textContent = `Saved: cleanup keeps ${saved.effective_ttl_days} days in the index.`;
  } catch (error) {
    $("config-status").textContent = `Not saved: ${error.message}`;
  }
}

// -- the keys view ----------------------------------------------------------------------

async function renderKeys() {
  let answer;
  try {
    answer = await api("/api/v1/admin/keys");
  } catch (error) {
    $("keys").replaceChildren(element("caption", { text: error.message }));
    return;
  }
  const head = element("tr", {}, ...["Name", "Id", "Scopes", "Services", "Created", "State", ""].map((t) => element("th", { scope: "col", text: t })));
  const body = answer.keys.map((key) =>
    element(
      "tr",
      {},
      element("td", { text: key.name }),
      element("td", { text: key.id }),
      element("td", { text: key.scopes.join(", ") }),
      element("td", { text: key.services ? key.services.join(", ") : "all" }),
      element("td", { text: new Date(key.created_at).toISOString() }),
      element("td", { text: key.revoked_at ? "revoked" : "active" }),
      element(
        "td",
        {},
        key.revoked_at
          ? null
          : element("button", {
              type: "button",
              text: "Revoke",
              "aria-label": `Revoke ${key.name}`,
              onclick: async () => {
                await api(`/api/v1/admin/keys/${encodeURIComponent(key.id)}`, [], "DELETE");
                renderKeys();
              },
            }),
      ),
    ),
  );
  $("keys").replaceChildren(element("thead", {}, head), element("tbody", {}, ...body));
}

async function createKey(event) {
  event.preventDefault();
  const form = $("key-form");
  const scopes = [...form.querySelectorAll("input[name=scope]:checked")].map((box) => box.value);
  const services = $("key-services").value.split(",").map((s) => s.trim()).filter(Boolean);
  const request = { name: $("key-name").value.trim(), scopes };
  if (services.length) request.services = services;
  try {
    const created = await api("/api/v1/admin/keys", [], "POST", request);
    $("new-key").textContent = `New key (shown once, copy it now): ${created.key}`;
    form.reset();
  } catch (error) {
    $("new-key").textContent = `Not created: ${error.message}`;
  }
  renderKeys();
}

// -- actions --------------------------------------------------------------------------

// The range controls say what is shown: a preset, or the times picked on the chart (or
// typed), in From and To.
function renderRange() {
  const custom = state.range === "custom";
  const picked = [...$("range").options].find((option) => option.value === "custom");
  if (custom && !picked) $("range").append(element("option", { value: "custom", text: "From and To below" }));
  $("range").value = state.range;
  $("from").value = custom ? localInput(state.from) : "";
  $("to").value = custom ? localInput(state.to) : "";
}

async function run(append = false) {
  state.offset = append ? state.offset + PAGE : 0;
  writeUrl();
  renderLevels();
  renderFilters();
  renderRange();
  const number = ++runs;
  try {
    const { logs, more, archived, unfinished } = await search(state.offset);
    if (number !== runs) return; // a newer run has started: its answer decides
    shown = append ? shown.concat(logs) : logs;
    if (!append) {
      $("scroller").scrollTop = 0;
      select(null);
    }
    renderRows();
    renderFields(shown);
    $("more").hidden = !more;
    const note = archiveNote(shown, archived, unfinished);
    $("summary").textContent = `${count(shown.length, "entry", "entries")}${note}${more ? " (more older)" : ""}`;
  } catch (error) {
    if (number !== runs) return;
    $("summary").textContent = error.message;
  }
  if (tail) startTail();
  if (!append) renderHistogram(number);
}

async function loadServices() {
  const { services } = await api("/api/v1/logs/services");
  $("services").replaceChildren(
    ...services.map((s) => element("option", { value: s.service_name, label: `${s.service_name} (${s.log_count})` })),
  );
}

function tailMatches(entry) {
  return !state.levels.length || state.levels.includes(entry.level);
}

function startTail() {
  stopTail();
  // The stream API's address on AWS (the page says it), else this server's own.
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = document.querySelector("meta[name=logsvc-live-tail]").content || `${scheme}://${location.host}/api/v1/logs/stream`;
  const socket = new WebSocket(url, ["bearer", sessionStorage.getItem(KEY)]);
  tail = socket;
  let dropped = 0;
  socket.addEventListener("open", () => {
    const subscription = { action: "subscribe", filters: state.filters };
    if (state.service) subscription.services = [state.service];
    if (state.q) subscription.q = state.q;
    socket.send(JSON.stringify(subscription));
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "subscribed") $("tail-status").textContent = "Live: new entries appear at the top";
    if (message.type === "dropped") dropped += message.count;
    if (message.type === "logs") {
      shown = [...message.logs.filter(tailMatches).reverse(), ...shown];
      renderRows();
      $("summary").textContent = count(shown.length, "entry", "entries");
    }
    if (dropped) $("tail-status").textContent = `Live: ${count(dropped, "entry", "entries")} dropped (the page fell behind)`;
  });
  socket.addEventListener("close", () => {
    if (tail === socket) $("tail-status").textContent = "Live tail stopped";
  });
}

function stopTail() {
  if (tail) {
    const socket = tail;
    tail = null;
    socket.close();
  }
}

function view() {
  const name = new URLSearchParams(location.search).get("view");
  return ["services", "keys"].includes(name) ? name : "logs";
}

function showConsole(signedIn) {
  const current = view();
  $("console").hidden = !signedIn || current !== "logs";
  $("services-view").hidden = !signedIn || current !== "services";
  $("keys-view").hidden = !signedIn || current !== "keys";
  $("views").hidden = !signedIn;
  $(`view-${current}`).setAttribute("aria-current", "page");
  $("sign-in").hidden = signedIn;
  $("sign-out").hidden = !signedIn;
}

async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  try {
    await loadServices();
  } catch (error) {
    sessionStorage.removeItem(KEY);
    $("sign-in-error").textContent = error.message;
    showConsole(false);
    return;
  }
  $("sign-in-error").textContent = "";
  showConsole(true);
  if (view() === "services") return renderServices();
  if (view() === "keys") return renderKeys();
  $("service").value = state.service;
  $("search").value = state.q;
  askOnSignIn();
  await run();
}

document.addEventListener("DOMContentLoaded", () => {
  readUrl();
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("api-key").value.trim());
  });
  $("sign-out").addEventListener("click", () => {
    stopTail();
    sessionStorage.removeItem(KEY);
    shown = [];
    select(null);
    showConsole(false);
  });
  $("query").addEventListener("submit", (event) => {
    event.preventDefault();
    const from = Date.parse($("from").value);
    const to = Date.parse($("to").value);
    if (from && to && to > from) Object.assign(state, { range: "custom", from, to });
    else state.range = $("range").value === "custom" ? "1h" : $("range").value;
    state.service = $("service").value.trim();
    state.q = $("search").value;
    run();
  });
  $("more").addEventListener("click", () => run(true));
  $("range").addEventListener("change", () => {
    state.range = $("range").value;
    $("from").value = $("to").value = "";
    run();
  });
  let refresher = null;
  $("auto-refresh").addEventListener("click", () => {
    const on = $("auto-refresh").getAttribute("aria-pressed") !== "true";
    $("auto-refresh").setAttribute("aria-pressed", String(on));
    clearInterval(refresher);
    refresher = on ? setInterval(() => run(), 10_000) : null;
  });
  $("add-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("filter").value.trim();
    if (text && !state.filters.includes(text)) state.filters.push(text);
    $("filter").value = "";
    run();
  });
  const asking = setUpAsk({ $, api, element, sparkline, count, onAsked: (question) => {
    state.ask = question;
    writeUrl();
  } });
  if (state.ask) $("question").value = state.ask;
  askOnSignIn = () => state.ask && asking.ask(state.ask);
  $("load-patterns").addEventListener("click", renderPatterns);
  $("field-search").addEventListener("input", () => renderFields(fieldsOf));
  $("config-form").addEventListener("submit", saveConfig);
  $("key-form").addEventListener("submit", createKey);
  zoomable();
  $("scroller").addEventListener("scroll", () => requestAnimationFrame(renderRows), { passive: true });
  $("scroller").addEventListener("keydown", listKeys);
  // "/" goes to the search box from anywhere but a field being typed in.
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (event.key === "/" && !typing && !$("console").hidden) {
      event.preventDefault();
      $("search").focus();
    }
  });
  $("live-tail").addEventListener("click", () => {
    const on = $("live-tail").getAttribute("aria-pressed") !== "true";
    $("live-tail").setAttribute("aria-pressed", String(on));
    if (on) startTail();
    else {
      stopTail();
      $("tail-status").textContent = "Live tail paused";
    }
  });
  if (sessionStorage.getItem(KEY)) signIn(sessionStorage.getItem(KEY));
  else showConsole(false);
});
