// Portitor's operator dashboard: plain DOM, no framework, no third-party
// code. Everything it shows comes from the tenant API with the operator's
// own token; untrusted text is only ever set as text, never as HTML.
(() => {
  "use strict";
  const company = document.body.dataset.company;
  const TOKEN_KEY = "portitor-token";
  const PAGE = 50;
  const $ = (id) => document.getElementById(id);
  const view = $("view");
  let firstFailedRender = true;

  // ---- helpers -------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "text") el.textContent = value;
      else el.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }
  const token = () => sessionStorage.getItem(TOKEN_KEY);
  function claims() {
    try {
      const part = (token() || "").split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part));
    } catch (_) {
      return null;
    }
  }
  const roles = () => (claims() || {}).roles || [];
  const isOperator = () => roles().includes("platform-operator");
  function status(message, isError) {
    const el = $("status");
    el.textContent = message || "";
    el.className = isError ? "error-text" : "";
  }
  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }
  // Says what failed, unless the token was refused: then the sign-in page
  // and its message are showing, and stay.
  function failed(prefix, e) {
    if (e.status !== 401) status(`${prefix}${e.message}`, true);
  }
  async function api(path, options = {}) {
    const response = await fetch(`/${company}${path}`, {
      ...options,
      headers: { Authorization: `Bearer ${token()}`, "Content-Type": "application/json", ...(options.headers || {}) },
    });
    const text = await response.text();
    const body = text ? JSON.parse(text) : null;
    if (!response.ok) {
      if (response.status === 401) signOut("Your token was refused (expired or invalid). Sign in again.");
      throw new ApiError(response.status, (body && body.error && body.error.message) || response.statusText);
    }
    return body;
  }
  function age(iso) {
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 90) return `${Math.round(seconds)} s ago`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
    return `${Math.round(seconds / 86400)} days ago`;
  }
  const time = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
  const badge = (text) => h("span", { class: `badge ${text}`, text });
  const shortVersion = (v) => (v ? v.slice(0, 12) : "—");
  function findingsList(findings) {
    if (!findings || findings.length === 0) return h("span", { class: "empty", text: "none" });
    return h("ul", { class: "findings" }, findings.map((f) =>
      h("li", {}, badge(f.severity), " ", h("span", { class: "field", text: f.field }),
        f.value ? h("span", { class: "meta", text: ` = ${f.value}` }) : null, ` — ${f.message}`)));
  }
  function offsetPager(page, onPage) {
    const first = page.total === 0 ? 0 : page.offset + 1;
    const last = page.offset + (page.orders || page.deadLetters || []).length;
    return h("div", { class: "pager" },
      h("button", { type: "button", "aria-label": "Previous page", disabled: page.offset === 0, onclick: () => onPage(Math.max(0, page.offset - PAGE)) }, "← Previous"),
      h("span", { text: `Showing ${first}–${last} of ${page.total}` }),
      h("button", { type: "button", "aria-label": "Next page", disabled: last >= page.total, onclick: () => onPage(page.offset + PAGE) }, "Next →"));
  }
  // Order lists page by cursor: a page starts after the last row of the one
  // before (one listing on the server, at any depth); `at` keeps the way back.
  const FIRST = { after: null, offset: 0, back: [] };
  const after = (at) => (at.after ? `&after=${encodeURIComponent(at.after)}` : "");
  function cursorPager(page, at, onPage) {
    const first = page.orders.length === 0 ? 0 : at.offset + 1;
    const last = at.offset + page.orders.length;
    return h("div", { class: "pager" },
      h("button", { type: "button", "aria-label": "Previous page", disabled: at.back.length === 0, onclick: () => onPage(at.back[at.back.length - 1]) }, "← Previous"),
      h("span", { text: `Showing ${first}–${last} of ${Math.max(page.total, last)}` }),
      h("button", { type: "button", "aria-label": "Next page", disabled: !page.next, onclick: () => onPage({ after: page.next, offset: at.offset + PAGE, back: [...at.back, at] }) }, "Next →"));
  }
  // Each view that starts drawing makes any view still loading stale: a
  // slow answer must not replace the page the operator has moved on to.
  let drawing = 0;
  function show(mine, title, ...content) {
    if (mine !== drawing) return;
    view.replaceChildren(h("h1", { text: title }), ...content.filter((c) => c !== null && c !== undefined && c !== false));
    for (const link of document.querySelectorAll("nav a")) {
      link.toggleAttribute("aria-current", location.hash.startsWith(link.getAttribute("href")));
      if (link.hasAttribute("aria-current")) link.setAttribute("aria-current", "page");
    }
  }

  // ---- sign in ---------------------------------------------------------
  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    render();
    if (message) status(message, true);
  }
  $("sign-out").addEventListener("click", () => signOut("Signed out."));
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
    $("token-input").value = "";
    if (!location.hash) location.hash = "#failed";
    render();
  });

  // ---- the chart -------------------------------------------------------
  async function chart() {
    const hours = await api("/stats/hourly?hours=24");
    const max = Math.max(1, ...hours.map((x) => Math.max(x.ingested, x.failed)));
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 960 134");
    svg.setAttribute("preserveAspectRatio", "xMinYMid meet");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "Orders ingested and failed per hour, the last 24 hours");
    hours.forEach((x, i) => {
      for (const [value, offset, color] of [[x.ingested, 4, "#0b57a3"], [x.failed, 20, "#a31515"]]) {
        const bar = document.createElementNS(ns, "rect");
        const height = (value / max) * 104;
        bar.setAttribute("x", String(i * 40 + offset));
        bar.setAttribute("y", String(118 - height));
        bar.setAttribute("width", "14");
        bar.setAttribute("height", String(height));
        bar.setAttribute("fill", color);
        svg.append(bar);
      }
    });
    for (const [x, anchor, label] of [[0, "start", "24 h ago"], [480, "middle", "12 h ago"], [960, "end", "now"]]) {
      const text = document.createElementNS(ns, "text");
      text.setAttribute("x", String(x));
      text.setAttribute("y", "131");
      text.setAttribute("text-anchor", anchor);
      text.setAttribute("class", "axis");
      text.textContent = label;
      svg.append(text);
    }
    const table = h("table", { class: "visually-hidden" },
      h("caption", { text: "Orders per hour" }),
      h("thead", {}, h("tr", {}, h("th", { text: "Hour" }), h("th", { text: "Ingested" }), h("th", { text: "Failed" }))),
      h("tbody", {}, hours.map((x) => h("tr", {}, h("td", { text: time(x.hour) }), h("td", { text: x.ingested }), h("td", { text: x.failed })))));
    const total = hours.reduce((sum, x) => sum + x.ingested, 0);
    const failed = hours.reduce((sum, x) => sum + x.failed, 0);
    return h("figure", { class: "chart" }, svg,
      h("figcaption", { class: "legend" },
        h("span", {}, h("span", { class: "swatch ingested" }), `Ingested (${total} in 24 h)`),
        h("span", {}, h("span", { class: "swatch failed" }), `Failed (${failed} in 24 h)`),
        h("span", { class: "meta", text: `Tallest bar: ${max} per hour` })),
      table);
  }

  // ---- failed orders -----------------------------------------------------
  async function failedView(at = FIRST) {
    const mine = ++drawing;
    status("Loading failed orders…");
    const [page, figure] = await Promise.all([api(`/orders?state=failed&limit=${PAGE}${after(at)}`), chart()]);
    const rows = page.orders.map((order) => {
      const row = h("tr", { "data-order": order.id },
        h("td", {}, h("a", { href: `#order/${order.id}`, text: order.externalId })),
        h("td", { text: order.source }),
        h("td", {}, badge(order.state)),
        h("td", { text: age(order.updatedAt), title: time(order.updatedAt) }),
        h("td", {}, findingsList(order.findings)),
        h("td", {}, isOperator() && (order.state === "failed" || order.state === "dispatch-failed")
          ? h("button", { type: "button", class: "danger", "aria-label": `Force order ${order.externalId}`, onclick: () => forceForm(row, order, at) }, "Force…")
          : null));
      return row;
    });
    show(mine, "Failed orders", figure,
      page.total === 0 ? h("p", { class: "empty", text: "No failed orders." }) : h("table", {},
        h("caption", { class: "visually-hidden", text: "Failed orders, most recent first" }),
        h("thead", {}, h("tr", {}, ["Order", "Source", "State", "Age", "Findings", ""].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, rows)),
      cursorPager(page, at, failedView));
    status(`${page.total} failed order(s).`);
    if (firstFailedRender) {
      firstFailedRender = false;
      performance.mark("failed-queue-rendered");
    }
  }

  function forceForm(row, order, at) {
    const id = `reason-${order.id}`;
    const form = h("form", { class: "force-form" },
      h("label", { for: id, text: order.state === "dispatch-failed"
        ? `Why send order ${order.externalId} to the warehouse again?`
        : `Why force order ${order.externalId} past validation?` }),
      h("textarea", { id, rows: "2", required: true }),
      h("p", { class: "hint", text: "The reason is recorded with your name in the order's history." }),
      h("button", { type: "submit", class: "primary" }, "Force order"), " ",
      h("button", { type: "button", onclick: () => failedView(at) }, "Cancel"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const reason = form.querySelector("textarea").value.trim();
      try {
        await api(`/order/${order.id}/force`, { method: "POST", body: JSON.stringify({ reason }) });
        status(`Order ${order.externalId} forced; it goes on to mapping and dispatch.`);
        await failedView(at);
      } catch (e) {
        failed("Could not force the order: ", e);
      }
    });
    const cell = h("td", { colspan: "6" }, form);
    row.replaceChildren(cell);
    form.querySelector("textarea").focus();
  }

  // ---- unhandled orders ---------------------------------------------------
  async function unhandledView(at = FIRST) {
    const mine = ++drawing;
    status("Loading unhandled orders…");
    const page = await api(`/orders?state=unhandled&limit=${PAGE}${after(at)}`);
    show(mine, "Unhandled orders",
      h("p", { class: "hint", text: "Sent to the warehouse and waiting for it." }),
      page.total === 0 ? h("p", { class: "empty", text: "No orders are waiting at the warehouse." }) : h("table", {},
        h("thead", {}, h("tr", {}, ["Order", "Reference", "Source", "Sent"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, page.orders.map((order) => h("tr", { "data-order": order.id },
          h("td", {}, h("a", { href: `#order/${order.id}`, text: order.externalId })),
          h("td", { class: "field", text: order.reference || "—" }),
          h("td", { text: order.source }),
          h("td", { text: age(order.updatedAt), title: time(order.updatedAt) }))))),
      cursorPager(page, at, unhandledView));
    status(`${page.total} order(s) at the warehouse.`);
  }

  // ---- one order -----------------------------------------------------------
  async function orderView(id) {
    const mine = ++drawing;
    status("Loading the order…");
    const order = await api(`/order/${id}`);
    const warnings = order.findings.filter((f) => f.severity === "warning");
    const payload = h("div", {});
    show(mine, `Order ${order.externalId}`,
      h("p", {}, badge(order.state), " ", h("span", { class: "meta", text: `from ${order.source} · id ${order.id}` })),
      order.reference ? h("p", {}, "Warehouse reference: ", h("strong", { class: "field", text: order.reference })) : null,
      warnings.length ? h("section", { class: "warnings", "aria-labelledby": "warnings-title" },
        h("h2", { id: "warnings-title", text: `${warnings.length} warning(s) from lenient validation` }),
        findingsList(warnings)) : null,
      h("h2", { text: "Findings" }), findingsList(order.findings),
      h("h2", { text: "Timeline" }),
      h("ol", { class: "timeline" }, order.events.map((e) => h("li", {},
        h("strong", { text: e.type }), " ",
        h("span", { class: "meta", text: `v${e.version} · ${time(e.occurredAt)} · ${e.actor.kind} ${e.actor.id}${e.actor.pluginVersion ? " @" + shortVersion(e.actor.pluginVersion) : ""}` }),
        e.reason ? h("div", { text: `Reason: ${e.reason}` }) : null,
        e.reference ? h("div", { class: "field", text: `Reference ${e.reference}` }) : null,
        e.findings && e.findings.length ? findingsList(e.findings) : null))),
      h("h2", { text: "Raw payload" }),
      h("button", { type: "button", onclick: async () => {
        const full = await api(`/order/${id}?payload=true`);
        payload.replaceChildren(h("pre", { text: JSON.stringify({ order: full.order, envelope: full.envelope }, null, 2) }));
      } }, "Show the order as received"),
      payload);
    status("");
  }

  // ---- plugins -------------------------------------------------------------
  // `open`: the id of a plugin whose runs and logs to show below the table.
  async function pluginsView(open) {
    const mine = ++drawing;
    status("Loading plugins…");
    const { plugins } = await api("/plugins");
    const detail = h("div", { id: "plugin-detail" });
    const rows = plugins.map((p) => {
      const a = p.activity || {};
      const rate = a.calls ? `${Math.round((100 * a.failures) / a.calls)} % of ${a.calls}` : "—";
      const isPull = p.kind === "pull-source";
      return h("tr", { "data-plugin": p.id },
        h("td", { text: p.id }),
        h("td", { text: p.kind }),
        h("td", { class: "field", text: shortVersion(p.version), title: p.version }),
        h("td", {}, badge(p.enabled ? "enabled" : "disabled")),
        h("td", { text: a.lastAt ? age(a.lastAt) : "—", title: a.lastError || "" }),
        h("td", { text: rate }),
        h("td", {},
          h("button", { type: "button", onclick: () => toggle(p) }, p.enabled ? "Disable" : "Enable"), " ",
          isPull ? h("button", { type: "button", onclick: () => runNow(p) }, "Run now") : null, " ",
          h("button", { type: "button", onclick: () => pluginDetail(p, detail) }, isPull ? "Runs & logs" : "Logs")));
    });
    show(mine, "Plugins",
      plugins.length === 0 ? h("p", { class: "empty", text: "No plugins installed." }) : h("table", {},
        h("thead", {}, h("tr", {}, ["Plugin", "Kind", "Active version", "State", "Last call", "Errors", "Actions"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, rows)),
      detail);
    status(`${plugins.length} plugin(s).`);
    const opened = plugins.find((p) => p.id === open);
    if (opened) await pluginDetail(opened, detail);
  }
  async function toggle(p) {
    try {
      await api(`/plugins/${p.id}/${p.enabled ? "disable" : "enable"}`, { method: "POST" });
      await pluginsView();
      status(`${p.id} ${p.enabled ? "disabled" : "enabled"}.`);
    } catch (e) { failed("", e); }
  }
  async function runNow(p) {
    status(`Running ${p.id}…`);
    try {
      const run = await api(`/plugins/${p.id}/run`, { method: "POST" });
      // The table's last call and error rate changed with the run: redraw it.
      await pluginsView(p.id);
      status(run.error ? `The run failed: ${run.error}` : `${p.id}: ${run.events} event(s), ${run.created} new.`, !!run.error);
    } catch (e) { failed("", e); }
  }
  // What a plugin's shadow and newest replay report say; null where there is none.
  const orNone = (promise) => promise.catch((e) => { if (e.status === 404) return null; throw e; });
  const countsText = (c) => `${c.equal} equal · ${c.different} different · ${c.failed} failed`;
  function shadowSection(shadow) {
    if (!shadow) return null;
    const c = shadow.counts;
    return h("div", { class: "shadow" },
      h("h3", { text: "Shadow" }),
      h("p", { text: `Version ${shortVersion(shadow.version)} beside the active one since ${time(shadow.since)} (set by ${shadow.setBy}): ${countsText(c)} · ${c.skipped} skipped, on this node.` }),
      c.lastMismatch ? h("pre", { text: JSON.stringify(c.lastMismatch, null, 2) }) : null);
  }
  function replaySection(report) {
    if (!report) return null;
    const unequal = report.invocations.filter((i) => i.verdict !== "equal");
    return h("div", { class: "replay" },
      h("h3", { text: "Last replay" }),
      h("p", { text: `Version ${shortVersion(report.version)} over ${report.invocations.length} recorded invocation(s), ${time(report.endedAt)} by ${report.requestedBy}: ${countsText(report.counts)}.` }),
      unequal.length === 0 ? null : h("table", {},
        h("thead", {}, h("tr", {}, ["Recording", "Verdict", "Where", "Recorded", "Replayed"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, unequal.slice(0, 20).map((i) => {
          const d = (i.differences || [])[0] || {};
          return h("tr", {},
            h("td", { class: "field", text: i.recording }),
            h("td", {}, badge(i.verdict)),
            h("td", { class: "field", text: i.error ? i.error.kind : (d.path || "") }),
            h("td", { text: i.error ? "" : JSON.stringify(d.recorded) }),
            h("td", { text: i.error ? i.error.message : JSON.stringify(d.replayed) }));
        }))));
  }
  // A plugin's stored versions, each to replay over the recordings, run in
  // shadow, or make the active one; then the page is drawn again.
  function versionsSection(p, versions, shadow, detail) {
    const act = async (what, path, options) => {
      status(`${what}…`);
      try {
        await api(`/plugins/${p.id}/${path}`, options);
        await pluginsView(p.id);
        status(`${what}: done.`);
      } catch (e) { failed(`${what}: `, e); }
    };
    const post = (body, method = "POST") => ({ method, body: JSON.stringify(body) });
    return h("div", { class: "versions" },
      h("h3", { text: "Versions" }),
      h("table", {},
        h("thead", {}, h("tr", {}, ["Version", "", "Actions"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, versions.map((v) => h("tr", { "data-version": v.version },
          h("td", { class: "field", text: shortVersion(v.version), title: v.version }),
          h("td", {}, v.active ? badge("active") : null, shadow && shadow.version === v.version ? badge("shadow") : null),
          h("td", {},
            h("button", { type: "button", onclick: () => act(`Replaying ${shortVersion(v.version)} over the recordings`, "replay", post({ version: v.version })) }, "Replay"), " ",
            shadow && shadow.version === v.version
              ? h("button", { type: "button", onclick: () => act("Stopping the shadow", "shadow", { method: "DELETE" }) }, "Stop shadow")
              : h("button", { type: "button", onclick: () => act(`Running ${shortVersion(v.version)} in shadow`, "shadow", post({ version: v.version }, "PUT")) }, "Shadow"), " ",
            v.active ? null : h("button", { type: "button", onclick: () => act(`Activating ${shortVersion(v.version)}`, "activate", post({ version: v.version })) }, "Activate")))))));
  }
  async function pluginDetail(p, detail) {
    const [logs, runs, shadow, report, versions] = await Promise.all([
      api(`/plugins/${p.id}/logs?limit=100`),
      p.kind === "pull-source" ? api(`/plugins/${p.id}/runs`) : Promise.resolve(null),
      orNone(api(`/plugins/${p.id}/shadow`)),
      orNone(api(`/plugins/${p.id}/replay`)),
      api(`/plugins/${p.id}/versions`),
    ]);
    const canReplay = p.kind === "push-source" || p.kind === "pull-source";
    detail.replaceChildren(
      h("h2", { text: `${p.id}` }),
      canReplay ? versionsSection(p, versions.versions, shadow, detail) : null,
      shadowSection(shadow),
      replaySection(report),
      runs ? h("table", { class: "runs" },
        h("caption", { text: "Recent runs" }),
        h("thead", {}, h("tr", {}, ["Started", "Trigger", "Events (new)", "Fuel", "Time", "Cursor", "Error"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, runs.runs.slice(0, 20).map((r) => h("tr", {},
          h("td", { text: time(r.startedAt) }), h("td", { text: r.trigger }),
          h("td", { text: `${r.events} (${r.created})` }), h("td", { text: r.fuel.toLocaleString() }),
          h("td", { text: `${r.durationMs} ms` }),
          h("td", { text: r.cursorBefore === r.cursorAfter ? "unchanged" : "moved" }),
          h("td", { class: r.error ? "error-text" : "", text: r.error || "—" }))))) : null,
      h("h3", { text: "Log lines" }),
      logs.lines.length ? h("pre", { text: logs.lines.map((l) => `${l.at} ${l.level.toUpperCase()} ${l.message}`).join("\n") })
        : h("p", { class: "empty", text: "No log lines yet." }));
  }

  // ---- dead letters -------------------------------------------------------------
  async function deadLettersView(offset = 0) {
    const mine = ++drawing;
    status("Loading dead letters…");
    const page = await api(`/deadletters?offset=${offset}&limit=${PAGE}`);
    const detail = h("div", {});
    show(mine, "Dead letters",
      h("p", { class: "hint", text: "Partners' requests a plugin failed on, kept for replay." }),
      page.total === 0 ? h("p", { class: "empty", text: "No dead letters." }) : h("table", {},
        h("thead", {}, h("tr", {}, ["Received", "Plugin", "Request", "Answer", "Error", ""].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, page.deadLetters.map((d) => h("tr", {},
          h("td", { text: age(d.receivedAt), title: time(d.receivedAt) }),
          h("td", { text: d.plugin }),
          h("td", { class: "field", text: `${d.method} ${d.path}` }),
          h("td", { text: d.status }),
          h("td", { text: d.error }),
          h("td", {}, h("button", { type: "button", onclick: async () => {
            status(`Replaying ${d.id} through ${d.plugin}'s active version…`);
            try {
              const replayed = await api(`/deadletters/${d.plugin}/${d.id}/replay`, { method: "POST" });
              await deadLettersView(offset);
              status(`${d.id}: handled by ${shortVersion(replayed.version)}, ${replayed.created ? "a new order stored" : "nothing new to store"}.`);
            } catch (e) { failed(`${d.id} failed again: `, e); }
          } }, "Replay"), " ", h("button", { type: "button", onclick: async () => {
            const letter = await api(`/deadletters/${d.plugin}/${d.id}`);
            let body;
            try { body = atob(letter.bodyBase64); } catch (_) { body = letter.bodyBase64; }
            detail.replaceChildren(h("h2", { text: `Request ${d.id}` }),
              h("pre", { text: letter.headers.map(([n, v]) => `${n}: ${v}`).join("\n") + "\n\n" + body }));
          } }, "Show request")))))),
      offsetPager({ ...page, orders: page.deadLetters }, deadLettersView), detail);
    status(`${page.total} dead letter(s).`);
  }

  // ---- routing ---------------------------------------------------------------
  async function render() {
    const signedIn = !!token();
    $("login").hidden = signedIn;
    $("nav").hidden = !signedIn;
    $("who").hidden = !signedIn;
    if (!signedIn) {
      view.replaceChildren();
      status("");
      $("token-input").focus();
      return;
    }
    const c = claims() || {};
    $("who-text").textContent = `${c.sub || "?"} (${(c.roles || []).join(", ") || "no roles"})`;
    if (c.company && c.company !== "*" && c.company !== company) {
      view.replaceChildren();
      status(`This token is for company “${c.company}”, not “${company}”. Sign out and use a token for ${company}.`, true);
      return;
    }
    const [route, arg] = (location.hash || "#failed").slice(1).split("/");
    try {
      if (route === "order" && arg) await orderView(arg);
      else if (route === "unhandled") await unhandledView();
      else if (route === "plugins") await pluginsView();
      else if (route === "deadletters") await deadLettersView();
      else await failedView();
    } catch (e) {
      if (e.status === 401) return;
      view.replaceChildren();
      status(e.status === 403 ? `Not allowed: ${e.message}` : `Could not load: ${e.message}`, true);
    }
  }
  window.addEventListener("hashchange", render);
  render();
})();
