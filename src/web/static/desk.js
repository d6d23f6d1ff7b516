// rasad's desk: the "try it" box of the topics page. As the analyst types, the draft rule is
// sent to POST /api/v1/backtest (debounced, the older request aborted) and the stories it would
// have alerted are shown with the matched word highlighted and a count per keyword; the save
// button POSTs the rule to /api/v1/topics and shows the check's messages when it is refused;
// a topic saved on the desk has a delete button (DELETE /api/v1/topics/{id}, pressed twice).
// Served from /static/ because the Content-Security-Policy allows no inline script; every
// request carries the session cookie and the page's CSRF token (X-CSRF-Token).
"use strict";

(function () {
  /** Quiet time after the last keystroke before the rule is tried. */
  const DEBOUNCE_MS = 350;
  /** The most alerts asked for and drawn: the counts still say how many more matched. */
  const SHOWN_ALERTS = 50;
  /** A story field's name as the page writes it. */
  const FIELD_LABELS = { title: "العنوان", summary: "الملخص", content: "النص" };

  const form = document.getElementById("try-form");
  if (!form) {
    return;
  }
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  const status = document.getElementById("try-status");
  const counts = document.getElementById("try-counts");
  const hits = document.getElementById("try-hits");
  const messages = document.getElementById("save-messages");

  let timer = null;
  let inFlight = null;
  let sequence = 0;

  /** Keywords from a textarea: one a line; commas (Latin or Arabic) separate too. */
  function keywords(name) {
    return form.elements[name].value
      .split(/[\n,،]/)
      .map((k) => k.trim())
      .filter((k) => k.length > 0);
  }

  function checked(name) {
    return Array.from(form.querySelectorAll('input[name="' + name + '"]:checked')).map(
      (input) => input.value
    );
  }

  /** The draft as the backtest takes it. */
  function draft() {
    return {
      any: keywords("any"),
      all: keywords("all"),
      none: keywords("none"),
      fields: checked("fields"),
      since: form.elements.since.value,
      limit: SHOWN_ALERTS,
    };
  }

  /** The topic as the topics API stores it: the draft's keywords with an id, a name, channels. */
  function topic() {
    const rule = draft();
    delete rule.since;
    delete rule.limit;
    rule.id = form.elements.id.value.trim();
    const name = form.elements.name.value.trim();
    if (name) {
      rule.name = name;
    }
    rule.notify = checked("notify");
    return rule;
  }

  function post(path, body, signal) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
      signal: signal,
    });
  }

  /** The messages of a refusal: `{"error": "..."}`, with the check's list when there is one. */
  async function refusal(response) {
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      return ["HTTP " + response.status];
    }
    const list = body.messages || body.errors || body.problems;
    if (Array.isArray(list) && list.length) {
      return list.map(String);
    }
    return [String(body.error || "HTTP " + response.status)];
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  /** A snippet with the byte range `highlight` (UTF-8 offsets, as the server counts) marked. */
  function markedSnippet(snippet, highlight) {
    const quote = element("q");
    quote.dir = "auto";
    const bytes = new TextEncoder().encode(snippet);
    const decode = (from, to) => new TextDecoder().decode(bytes.subarray(from, to));
    const start = Math.min(highlight ? highlight.start : 0, bytes.length);
    const end = Math.min(Math.max(highlight ? highlight.end : 0, start), bytes.length);
    quote.append(decode(0, start));
    if (end > start) {
      quote.append(element("mark", "", decode(start, end)));
    }
    quote.append(decode(end, bytes.length));
    return quote;
  }

  function renderAlert(alert) {
    const card = element("li", "card alert");
    card.dataset.storyId = alert.story_id;
    const meta = element("div", "meta");
    meta.append(element("span", "outlet", alert.outlet));
    const time = element("time", "", alert.time.replace("T", " ").slice(0, 16) + " UTC");
    time.dateTime = alert.time;
    time.dir = "ltr";
    meta.append(time);
    card.append(meta);
    const title = element("p", "title");
    title.dir = "auto";
    const link = element("a", "", alert.title);
    link.href = "/stories/" + encodeURIComponent(alert.story_id);
    title.append(link);
    card.append(title);
    const list = element("ul", "hits");
    for (const hit of alert.hits || []) {
      const item = element("li");
      item.append(element("span", "keyword", hit.keyword), " ");
      item.append(element("span", "field", FIELD_LABELS[hit.field] || hit.field), " ");
      item.append(markedSnippet(hit.snippet, hit.highlight));
      list.append(item);
    }
    card.append(list);
    if (alert.also_reported_by && alert.also_reported_by.length) {
      card.append(element("p", "also", "أوردته أيضًا: " + alert.also_reported_by.join("، ")));
    }
    return card;
  }

  function renderReport(report) {
    counts.replaceChildren();
    hits.replaceChildren();
    const alerts = report.alerts || [];
    let line =
      "كان سيُنبّه على " + alerts.length + " قصة (" + report.matched + " خبرًا مطابقًا من " +
      report.stories + " خبرًا محفوظًا)";
    if (report.truncated) {
      line += "، والمزيد لم يُعرض";
    }
    status.textContent = line + ".";
    for (const count of report.keywords || []) {
      const item = element("li", count.stories ? "" : "zero");
      item.append(element("span", "keyword", count.keyword), " ");
      item.append(element("span", "stories", String(count.stories)));
      item.dataset.keyword = count.keyword;
      counts.append(item);
    }
    for (const alert of alerts.slice(0, SHOWN_ALERTS)) {
      hits.append(renderAlert(alert));
    }
  }

  /** Tries the draft now: the previous request, if any, is aborted and its answer ignored. */
  async function tryDraft() {
    const rule = draft();
    if (inFlight) {
      inFlight.abort();
    }
    if (rule.any.length === 0) {
      status.textContent = "اكتب كلمة واحدة على الأقل في «أيّ من هذه الكلمات».";
      counts.replaceChildren();
      hits.replaceChildren();
      return;
    }
    const mine = ++sequence;
    inFlight = new AbortController();
    form.setAttribute("aria-busy", "true");
    status.textContent = "جارٍ البحث…";
    try {
      const response = await post("/api/v1/backtest", rule, inFlight.signal);
      if (mine !== sequence) {
        return;
      }
      if (response.ok) {
        renderReport(await response.json());
      } else {
        status.textContent = (await refusal(response)).join(" · ");
        counts.replaceChildren();
        hits.replaceChildren();
      }
    } catch (error) {
      if (error.name !== "AbortError" && mine === sequence) {
        status.textContent = "تعذّر الاتصال بالخادم: " + error.message;
      }
    } finally {
      if (mine === sequence) {
        form.removeAttribute("aria-busy");
      }
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(tryDraft, DEBOUNCE_MS);
  }

  async function save(event) {
    event.preventDefault();
    messages.replaceChildren();
    const rule = topic();
    let response;
    try {
      response = await post("/api/v1/topics", rule);
    } catch (error) {
      messages.append(element("p", "", "تعذّر الاتصال بالخادم: " + error.message));
      return;
    }
    if (response.ok) {
      const saved = element("p", "saved", "حُفظ الموضوع ");
      saved.append(element("bdi", "", rule.id));
      saved.append("، ويعمل من القراءة التالية للمصادر.");
      messages.append(saved);
      form.dataset.saved = rule.id;
      return;
    }
    const list = element("ul");
    for (const message of await refusal(response)) {
      list.append(element("li", "", message));
    }
    messages.append(list);
  }

  /**
   * A saved topic's delete button: the first press arms it (its text asks to confirm), the
   * second sends DELETE /api/v1/topics/{id} and takes the card away; a refusal is shown on it.
   */
  async function deleteTopic(event) {
    const button = event.target.closest("button[data-delete-topic]");
    if (!button) {
      return;
    }
    if (!button.classList.contains("armed")) {
      button.classList.add("armed");
      button.textContent = "اضغط ثانية لتأكيد الحذف";
      return;
    }
    const id = button.dataset.deleteTopic;
    const response = await fetch("/api/v1/topics/" + encodeURIComponent(id), {
      method: "DELETE",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf },
    }).catch((error) => ({ ok: false, json: async () => ({ error: error.message }) }));
    const card = button.closest("[data-topic-id]");
    if (response.ok) {
      card.remove();
      return;
    }
    button.classList.remove("armed");
    button.textContent = "احذف الموضوع";
    card.append(element("p", "error", (await refusal(response)).join(" · ")));
  }

  const topicList = document.getElementById("topics");
  if (topicList) {
    topicList.addEventListener("click", deleteTopic);
  }
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  form.addEventListener("submit", save);
})();
