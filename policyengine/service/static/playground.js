// The playground: edit a copy of the policy set, see diagnostics as you type, decide a demand.
// Everything shown is built with textContent (never innerHTML), so nothing from a policy file
// or the server's answers can become markup or script in this page.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const fileSelect = $("file"), source = $("source"), shade = $("highlight");
  const diagList = $("diagnostics"), state = $("state"), result = $("decision");
  let server = {};   // path -> the server's text (read-only)
  let edited = {};   // path -> text edited in this page
  let timer = null, asked = 0;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  async function post(url, body) {
    const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                                body: JSON.stringify(body), credentials: "same-origin"});
    const data = await r.json();
    return {ok: r.ok, data: data};
  }

  function paint(tokens) {
    shade.replaceChildren();
    for (const t of tokens) shade.appendChild(t.kind ? el("span", t.text, t.kind) : document.createTextNode(t.text));
    shade.appendChild(document.createTextNode("\n"));
  }

  function showDiagnostics(answer) {
    diagList.replaceChildren();
    if (!answer.diagnostics.length) diagList.appendChild(el("li", "no problems: the set loads", "note"));
    for (const d of answer.diagnostics) {
      const li = el("li", `${d.path}:${d.line}:${d.column}: ${d.severity}[${d.code}]: ${d.message}`, d.severity + "-diag");
      li.appendChild(el("pre", d.rendered));
      diagList.appendChild(li);
    }
  }

  function rebuildMenus(answer) {
    const j = $("jurisdiction"), chosen = j.value;
    if (answer.jurisdictions.length) {
      const names = {};
      for (const o of j.options) names[o.value] = o.textContent;
      j.replaceChildren();
      for (const code of answer.jurisdictions) {
        const o = el("option", names[code] || code); o.value = code; j.appendChild(o);
      }
      j.value = answer.jurisdictions.includes(chosen) ? chosen : answer.jurisdictions[0];
    }
    const box = $("attributes"), before = {};
    for (const c of box.querySelectorAll("[data-attr]")) before[c.dataset.attr] = c.value;
    box.replaceChildren();
    for (const a of answer.attributes) {
      const label = el("label", a.name + " ");
      let c;
      if (a.values.length || a.kind === "bool") {
        c = document.createElement("select");
        const values = a.values.length ? a.values : ["true", "false"];
        if (!a.required || !a.values.length) { const o = el("option", "(absent)"); o.value = ""; c.appendChild(o); }
        for (const v of values) c.appendChild(el("option", v));
        if (a.kind === "bool") c.dataset.kind = "bool";
      } else {
        c = document.createElement("input");
        c.type = a.kind === "number" ? "number" : "text"; c.step = "any"; c.dataset.kind = a.kind;
      }
      c.name = a.name; c.dataset.attr = a.name;
      if (before[a.name] !== undefined) c.value = before[a.name];
      label.appendChild(c); box.appendChild(label);
    }
  }

  async function check(format) {
    const mine = ++asked;
    const path = fileSelect.value;
    const {ok, data} = await post("/v1/playground/check", {files: edited, path: path, format: !!format});
    if (mine !== asked) return;  // a newer check is on its way
    if (!ok) { diagList.replaceChildren(el("li", data.detail || "the check failed", "error-diag")); return; }
    if (format && data.formatted !== null && data.formatted !== source.value) {
      source.value = data.formatted; edited[path] = data.formatted;
    }
    paint(data.tokens.length ? data.tokens : [{kind: "", text: source.value}]);
    showDiagnostics(data);
    rebuildMenus(data);
    state.textContent = Object.keys(edited).length ? `edited copy (${data.ok ? "loads, version " + data.version : data.errors + " error(s)"})`
                                                   : "the server's set (read-only copy)";
  }

  function schedule() { clearTimeout(timer); timer = setTimeout(() => check(false), 250); }

  function demand() {
    const out = {};
    for (const c of $("attributes").querySelectorAll("[data-attr]")) {
      if (c.value === "") continue;
      if (c.dataset.kind === "bool") out[c.dataset.attr] = c.value === "true";
      else if (c.dataset.kind === "number") out[c.dataset.attr] = Number(c.value);
      else out[c.dataset.attr] = c.value;
    }
    return out;
  }

  async function decide(ev) {
    ev.preventDefault();
    const request = {jurisdiction: $("jurisdiction").value, demand: demand()};
    const {ok, data} = await post("/v1/playground/decide", {files: edited, request: request});
    result.replaceChildren();
    if (!ok) {
      result.appendChild(el("p", data.detail || "refused", "error"));
      if (data.hint) result.appendChild(el("p", data.hint, "note"));
      return;
    }
    const d = data.decision;
    const head = el("h3", ""); head.id = "outcome";
    head.appendChild(el("span", d.outcome, d.outcome));
    head.appendChild(document.createTextNode(" — " + d.summary));
    result.appendChild(head);
    result.appendChild(el("pre", data.explanation));
    if (d.actions && d.actions.length) {
      result.appendChild(el("h3", "Actions"));
      const ul = el("ul");
      for (const a of d.actions) ul.appendChild(el("li", typeof a === "string" ? a : JSON.stringify(a)));
      result.appendChild(ul);
    }
    if (data.matrix_row.length) {
      result.appendChild(el("h3", "Matrix row: " + d.jurisdiction));
      const table = el("table"), names = el("tr"), cells = el("tr");
      for (const c of data.matrix_row) {
        names.appendChild(el("th", c.kind));
        const td = el("td", c.outcome, c.outcome); td.title = c.decided_by.join(", ") || "default"; cells.appendChild(td);
      }
      table.appendChild(names); table.appendChild(cells); result.appendChild(table);
    }
  }

  function show(path) {
    source.value = edited[path] !== undefined ? edited[path] : (server[path] || "");
    check(false);
  }

  source.addEventListener("input", () => { edited[fileSelect.value] = source.value; schedule(); });
  source.addEventListener("scroll", () => { shade.scrollTop = source.scrollTop; shade.scrollLeft = source.scrollLeft; });
  fileSelect.addEventListener("change", () => show(fileSelect.value));
  $("format").addEventListener("click", () => check(true));
  $("reset").addEventListener("click", () => { edited = {}; show(fileSelect.value); });
  $("demand").addEventListener("submit", decide);

  fetch("/v1/playground/files", {credentials: "same-origin"}).then((r) => r.json()).then((files) => {
    server = files;
    show(fileSelect.value);
  });
})();
