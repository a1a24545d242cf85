// Ask in plain words: the question goes to POST /api/v1/logs/ask; the answer shows the
// LogQL it became (editable: "Run LogQL" sends the edited query to the Loki API with the
// same range), what it means, and what it found. A question the service cannot read shows
// why and questions it can, each one click away. Text is only ever set as textContent.

const MAX_ROWS = 200;
const LOKI_LIMIT = 100;

export function setUpAsk({ $, api, element, sparkline, count, onAsked }) {
  let last = null; // the latest answer: its range and step for "Run LogQL"

  function when(ms) {
    return new Date(ms).toLocaleString();
  }

  function rowsOfStreams(result) {
    const rows = result.result.flatMap((stream) =>
      stream.values.map(([ns, line]) => ({ ms: Number(BigInt(ns) / 1000000n), labels: stream.stream, line })),
    );
    rows.sort((a, b) => b.ms - a.ms);
    const list = element("ul", { class: "logs", role: "list", "aria-label": "Answer entries" });
    for (const row of rows.slice(0, MAX_ROWS)) {
      const level = (row.labels.level || "info").toLowerCase();
      list.append(
        element(
          "li",
          { class: `entry level-${level}` },
          element("time", { text: when(row.ms) }),
          element("span", { class: "level", text: level.toUpperCase() }),
          element("span", { class: "service", text: row.labels.service_name || "" }),
          element("span", { class: "message", text: row.line.split("\n")[0] }),
        ),
      );
    }
    // query_range's default limit is 100 lines: as many means there may be more.
    const note = rows.length > MAX_ROWS ? ` (the newest ${MAX_ROWS} shown)` : rows.length === LOKI_LIMIT ? " (the newest 100: the query's limit)" : "";
    return [element("p", { text: `${count(rows.length, "entry", "entries")}${note}` }), list];
  }

  function tableOfSeries(result) {
    const head = element("tr", {}, ...["Series", "Total", "Peak", "Over time"].map((t) => element("th", { scope: "col", text: t })));
    const body = result.result.map((series) => {
      const values = series.values.map(([, v]) => Number(v));
      const labels = Object.entries(series.metric).map(([k, v]) => `${k}=${v}`).join(", ") || "all";
      const total = values.reduce((a, b) => a + b, 0);
      return element(
        "tr",
        {},
        element("td", { text: labels }),
        element("td", { text: String(Number(total.toFixed(3))) }),
        element("td", { text: String(Math.max(0, ...values)) }),
        element("td", {}, sparkline(values)),
      );
    });
    const caption = element("caption", { text: count(result.result.length, "series", "series") });
    return [element("table", { class: "answer-table" }, caption, element("thead", {}, head), element("tbody", {}, ...body))];
  }

  function tableOfPatterns(patterns) {
    const head = element("tr", {}, ...["Pattern", "Count", "Over time"].map((t) => element("th", { scope: "col", text: t })));
    const body = patterns.map((p) =>
      element(
        "tr",
        {},
        element("td", { text: p.pattern }),
        element("td", { text: String(p.samples.reduce((a, [, c]) => a + c, 0)) }),
        element("td", {}, sparkline(p.samples.map(([, c]) => c))),
      ),
    );
    const caption = element("caption", { text: count(patterns.length, "pattern") });
    return [element("table", { class: "answer-table" }, caption, element("thead", {}, head), element("tbody", {}, ...body))];
  }

  function shown(kind, result) {
    if (kind === "patterns") return tableOfPatterns(result);
    if (result.resultType === "matrix") return tableOfSeries(result);
    return rowsOfStreams(result);
  }

  function render(answer) {
    last = answer;
    $("answer").hidden = false;
    $("answer-explanation").textContent = answer.explanation;
    $("logql").value = answer.logql;
    const step = answer.step ? `, step ${answer.step}` : "";
    const by = answer.translator === "words" ? "the built-in rules" : answer.translator;
    $("answer-range").textContent = `${when(answer.start)} to ${when(answer.end)}${step} · translated by ${by}`;
    $("answer-result").replaceChildren(...shown(answer.kind, answer.result));
    $("suggestions").replaceChildren();
  }

  function refused(error, suggestions) {
    $("answer").hidden = false;
    $("answer-explanation").textContent = error;
    $("answer-range").textContent = "";
    $("answer-result").replaceChildren();
    $("suggestions").replaceChildren(
      ...(suggestions || []).map((text) =>
        element("li", {}, element("button", { type: "button", text, onclick: () => ask(text) })),
      ),
    );
  }

  async function ask(question) {
    $("question").value = question;
    onAsked(question);
    $("answer-explanation").textContent = "Asking…";
    const body = { question, time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" };
    try {
      render(await api("/api/v1/logs/ask", [], "POST", body));
    } catch (error) {
      refused(error.message, error.answer && error.answer.suggestions);
    }
  }

  // The edited query, run as the Loki API runs it, over the answer's range.
  async function runLogql() {
    if (!last) return;
    const logql = $("logql").value;
    const params = [
      ["query", logql],
      ["start", `${last.start}000000`],
      ["end", `${last.end}000000`],
    ];
    if (last.step) params.push(["step", last.step]);
    try {
      const kind = last.kind === "patterns" ? "patterns" : "query_range";
      const answer = await api(`/loki/api/v1/${kind}`, params);
      $("answer-explanation").textContent = `Your query (edited from: ${last.explanation})`;
      $("answer-result").replaceChildren(...shown(last.kind, answer.data));
    } catch (error) {
      $("answer-result").replaceChildren(element("p", { class: "error", text: error.message }));
    }
  }

  $("ask").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (question) ask(question);
  });
  $("run-logql").addEventListener("click", runLogql);
  return { ask };
}
