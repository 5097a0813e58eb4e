// clocal status page: renders what the server streams (server-sent events), never polls.
"use strict";
(function () {
  const token = document.querySelector('meta[name="clocal-token"]').content;
  const $ = (id) => document.getElementById(id);
  const el = (tag, props, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const kid of kids) if (kid != null) e.append(kid);
    return e;
  };

  let state = null;
  let colors = {};
  const selected = new Set(); // services whose logs show (empty: all)
  let logLines = [];
  const maxLines = 5000;
  let logSource = null;

  // ---- formatting
  const pad = (n) => String(n).padStart(2, "0");
  const clock = (iso) => {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return "";
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  };
  const dur = (ms) => (ms == null ? "" : ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`);
  const statusClass = (s) => {
    if (s.state === "running") {
      if (s.health === "unhealthy") return "s-bad";
      if (s.health === "starting") return "s-starting";
      return "s-ok";
    }
    if (s.state === "restarting" || s.state === "created") return "s-starting";
    if (s.state === "exited" && s.held) return "s-idle";
    if (s.state === "missing") return "s-idle";
    return "s-bad";
  };

  // ---- services table
  function renderServices() {
    const tbody = $("services").tBodies[0];
    const acting = new Set(state.acting || []);
    const rows = [];
    const names = state.services.map((s) => s.name).sort();
    colors = {};
    names.forEach((n, i) => (colors[n] = "c" + (i % 8)));
    let ok = 0;
    for (const s of state.services) {
      const cls = statusClass(s);
      if (cls === "s-ok") ok++;
      const tr = el("tr", { "data-service": s.name, class: cls + (selected.has(s.name) ? " selected" : "") });
      const name = el("td", { class: "name", title: "show this service's logs" }, s.name,
        s.kind === "host" ? el("span", { class: "kind", text: "shared host" }) : s.kind === "router" ? el("span", { class: "kind", text: "host router" }) : null,
        s.requested ? el("span", { class: "kind", text: "target" }) : null);
      name.addEventListener("click", () => toggleLogService(s.name));
      if (s.jobs && s.jobs.length) name.append(el("div", { class: "jobs", text: s.jobs.join(", ") }));
      tr.append(name);

      const st = el("td", { class: "state" }, el("span", { class: "dot" }), el("span", { class: "state-text", text: s.state }));
      if (s.health) st.append(" ", el("span", { class: "health", text: s.health }));
      if (s.state === "exited") st.append(el("div", { class: "muted", text: `exit ${s.exit_code}` + (s.held ? " · stopped on purpose" : "") }));
      tr.append(st);

      const addr = el("td", { class: "addr" });
      for (const a of s.addresses || []) {
        addr.append(el("a", { href: a.url, target: "_blank", rel: "noopener noreferrer", text: a.url, title: `container port ${a.port}` }));
      }
      tr.append(addr);

      const origin = s.pinned ? `pinned by clocal update since ${clock(s.pinned_since)}` : s.built ? "built by clocal (content hash)" : "production image";
      tr.append(el("td", { class: "image" }, s.image || s.pinned || "", el("div", { class: "pinned", text: origin })));

      const b = s.build;
      const bc = el("td", { class: "build" + (b && !b.ok ? " failed" : "") });
      if (b) {
        const what = b.ok ? (b.built ? "built" : "up to date") : "failed";
        bc.append(el("span", { class: "build-result", text: what }), " ",
          el("span", { class: "muted", text: `${dur(b.duration_ms)} · ${clock(b.time)}` }));
        if (b.ok && b.built) bc.append(el("div", { class: "muted", text: `build.sh ${dur(b.build_sh_ms)}, image ${dur(b.image_ms)}` }));
        if (!b.ok) {
          const lines = (b.tail && b.tail.length ? b.tail : [b.error || ""]).join("\n");
          bc.append(el("pre", { text: lines }));
        }
      } else bc.append(el("span", { class: "muted", text: s.built ? "—" : "not built here" }));
      tr.append(bc);

      tr.append(el("td", { class: "started" }, el("span", { class: "started-at", "data-started": s.started || "", text: clock(s.started) || "—" }),
        " · ", el("span", { class: "restarts", text: String(s.restarts || 0) })));

      const act = el("td", { class: "actions" });
      const busy = acting.has(s.name);
      const button = (action, label, enabled) => {
        const btn = el("button", { type: "button", text: label, "data-action": action, disabled: busy || !enabled });
        btn.addEventListener("click", () => act_(s.name, action, btn));
        return btn;
      };
      const exists = s.state !== "missing";
      act.append(button("restart", "restart", exists && s.state === "running"));
      act.append(button("rebuild", "rebuild", s.built && !s.pinned));
      if (s.state === "running") act.append(button("stop", "stop", true));
      else act.append(button("start", "start", exists));
      const open = el("button", { type: "button", text: "open", "data-action": "open", disabled: !(s.addresses && s.addresses.length) });
      open.addEventListener("click", () => {
        // The row may be older than the state (kept when unchanged): the current address.
        const cur = state.services.find((x) => x.name === s.name);
        if (cur && cur.addresses && cur.addresses.length) window.open(cur.addresses[0].url, "_blank", "noopener,noreferrer");
      });
      act.append(open);
      if (busy) act.append(el("span", { class: "busy", text: "working…" }));
      tr.append(act);
      rows.push(tr);
    }
    reconcileRows(tbody, rows);
    $("summary").textContent = `${ok}/${state.services.length} healthy`;
    colorGraph();
    renderLogServices();
  }

  // A new snapshot keeps the rows and cells that did not change as they are, so that a
  // button is not replaced between the press and the release of a click (which loses the
  // click) by an update about something else.
  function reconcileRows(tbody, rows) {
    const old = new Map([...tbody.rows].map((r) => [r.dataset.service, r]));
    const out = rows.map((tr) => {
      const cur = old.get(tr.dataset.service);
      if (!cur || cur.cells.length !== tr.cells.length) return tr;
      if (cur.className !== tr.className) cur.className = tr.className;
      const cells = [...tr.cells];
      cells.forEach((td, i) => { if (!cur.cells[i].isEqualNode(td)) cur.cells[i].replaceWith(td); });
      return cur;
    });
    out.forEach((tr, i) => { if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null); });
    while (tbody.rows.length > out.length) tbody.lastElementChild.remove();
  }

  async function act_(service, action, btn) {
    btn.disabled = true;
    try {
      const r = await fetch(`/api/services/${encodeURIComponent(service)}/${action}`, {
        method: "POST", headers: { "X-Clocal-Token": token }, credentials: "same-origin",
      });
      if (!r.ok) localEvent({ kind: "action-failed", service, action, error: (await r.text()).trim() });
    } catch (e) {
      localEvent({ kind: "action-failed", service, action, error: String(e) });
    }
  }

  // ---- graph
  function colorGraph() {
    if (!state) return;
    const byName = {};
    for (const s of state.services) byName[s.name] = s;
    for (const g of document.querySelectorAll("#graph .node")) {
      const s = byName[g.dataset.service];
      g.classList.remove("s-ok", "s-starting", "s-bad", "s-idle");
      g.classList.add(s ? statusClass(s) : "s-idle");
    }
  }
  function setGraph(svg) {
    $("graph").innerHTML = svg; // drawn and escaped by the server
    for (const e of document.querySelectorAll("#graph .edge")) {
      e.addEventListener("mouseenter", () => { $("edge-info").textContent = e.dataset.reason; e.classList.add("hover"); });
      e.addEventListener("mouseleave", () => { e.classList.remove("hover"); });
    }
    for (const n of document.querySelectorAll("#graph .node")) {
      n.addEventListener("click", () => toggleLogService(n.dataset.service));
    }
    colorGraph();
  }

  // ---- logs
  function renderLogServices() {
    const box = $("log-services");
    const names = state.services.map((s) => s.name).sort();
    const have = [...box.querySelectorAll("input")].map((i) => i.value).join(",");
    if (have === names.join(",")) {
      for (const i of box.querySelectorAll("input")) i.checked = selected.size === 0 || selected.has(i.value);
      return;
    }
    box.replaceChildren(...names.map((n) => {
      const cb = el("input", { type: "checkbox", value: n, checked: selected.size === 0 || selected.has(n) });
      cb.addEventListener("change", () => {
        if (selected.size === 0) names.forEach((x) => selected.add(x));
        if (cb.checked) selected.add(n); else selected.delete(n);
        if (selected.size === names.length) selected.clear();
        openLogs();
        renderServices();
      });
      return el("label", { class: colors[n] }, cb, " " + n);
    }));
    if (!logSource) openLogs();
  }
  function toggleLogService(name) {
    if (selected.size === 1 && selected.has(name)) selected.clear();
    else { selected.clear(); selected.add(name); }
    openLogs();
    renderServices();
  }
  function openLogs() {
    if (logSource) logSource.close();
    logLines = [];
    renderLogs();
    const q = new URLSearchParams({ tail: "200" });
    for (const s of selected) q.append("service", s);
    const src = new EventSource("/api/logs?" + q.toString());
    logSource = src;
    src.addEventListener("open", () => {
      // (Re)connected: the server sends the tail again.
      logLines = [];
      renderLogs();
      $("log-status").textContent = selected.size ? [...selected].sort().join(", ") : "all services";
    });
    src.addEventListener("logs", (ev) => {
      const batch = JSON.parse(ev.data);
      logLines.push(...batch);
      if (logLines.length > maxLines) {
        logLines = logLines.slice(logLines.length - maxLines);
        renderLogs();
      } else appendLogs(batch);
    });
    src.addEventListener("dropped", (ev) => appendLogs([{ s: "clocal", l: `… ${ev.data} lines dropped (the page could not keep up)`, e: true }]));
    src.addEventListener("end", (ev) => { $("log-status").textContent = "log stream ended (" + JSON.parse(ev.data) + "); reconnecting…"; });
  }
  const search = () => $("log-search").value.trim().toLowerCase();
  function lineNode(l, q) {
    const n = el("span", { class: "ln" + (l.e ? " err" : "") }, el("span", { class: "svc " + (colors[l.s] || "c7"), text: l.s + " |" }));
    if (q) {
      const text = l.l, low = text.toLowerCase();
      let i = 0, j;
      while ((j = low.indexOf(q, i)) >= 0) {
        n.append(text.slice(i, j), el("mark", { text: text.slice(j, j + q.length) }));
        i = j + q.length;
      }
      n.append(text.slice(i));
    } else n.append(l.l);
    return n;
  }
  function appendLogs(batch) {
    const q = search();
    const box = $("logs");
    const frag = document.createDocumentFragment();
    for (const l of batch) if (!q || l.l.toLowerCase().includes(q)) frag.append(lineNode(l, q));
    box.append(frag);
    while (box.childNodes.length > maxLines) box.firstChild.remove();
    if ($("log-follow").checked) box.scrollTop = box.scrollHeight;
  }
  function renderLogs() {
    $("logs").replaceChildren();
    appendLogs(logLines);
  }
  $("log-search").addEventListener("input", renderLogs);
  $("log-clear").addEventListener("click", () => { logLines = []; renderLogs(); });
  $("log-follow").addEventListener("change", () => { if ($("log-follow").checked) $("logs").scrollTop = $("logs").scrollHeight; });

  // ---- dev loop events
  function describe(e) {
    const d = (m) => dur(m);
    switch (e.kind) {
      case "change": return `${e.service}: ${e.paths || 0} file(s) changed, rebuilding`;
      case "ready": return `${e.service} ready in ${d(e.total_ms)} (build.sh ${d(e.build_sh_ms)}, image ${d(e.image_ms)}, start+health ${d(e.start_health_ms)})`;
      case "unchanged": return `${e.service}: content unchanged (${e.image}), container kept`;
      case "build-failed": return `${e.service}: build failed, previous container still serving`;
      case "unhealthy": return `${e.service}: new container did not become healthy`;
      case "rolled-back": return `${e.service}: rolled back to ${e.image}`;
      case "reloaded": return `project reloaded` + (e.diff ? `: added ${(e.diff.Added || []).join(", ") || "-"}, removed ${(e.diff.Removed || []).join(", ") || "-"}, changed ${(e.diff.Changed || []).join(", ") || "-"}` : "");
      case "restored": return `${e.service}: container was stopped or removed outside clocal; brought back`;
      case "reconnected": return `Docker daemon reachable again`;
      case "taken-down": return `stack taken down`;
      case "watching": return `watching`;
      case "action": return `${e.service}: ${e.action} (from the status page)`;
      case "action-done": return `${e.service}: ${e.action} done`;
      case "action-failed": return `${e.service}: ${e.action} failed`;
      default: return `${e.service ? e.service + ": " : ""}${e.kind}`;
    }
  }
  function eventNode(e) {
    const li = el("li", { class: "k-" + e.kind }, el("time", { text: clock(e.time) || clock(new Date().toISOString()) }), describe(e));
    if (e.error) li.append(el("pre", { text: e.error }));
    return li;
  }
  function addEvent(e) {
    const list = $("events");
    list.prepend(eventNode(e));
    while (list.childNodes.length > 300) list.lastChild.remove();
  }
  function localEvent(e) { e.time = new Date().toISOString(); addEvent(e); }

  // ---- the live stream
  function connect() {
    const src = new EventSource("/api/stream");
    src.addEventListener("open", () => { $("conn").dataset.state = "live"; $("conn").textContent = "live"; });
    src.addEventListener("error", () => { $("conn").dataset.state = "lost"; $("conn").textContent = "reconnecting…"; });
    src.addEventListener("graph", (ev) => setGraph(JSON.parse(ev.data)));
    src.addEventListener("history", (ev) => {
      $("events").replaceChildren();
      for (const e of JSON.parse(ev.data)) addEvent(e);
    });
    src.addEventListener("devloop", (ev) => addEvent(JSON.parse(ev.data)));
    src.addEventListener("state", (ev) => {
      state = JSON.parse(ev.data);
      $("project").textContent = state.project;
      $("targets").textContent = (state.targets || []).join(" ");
      const banner = $("banner");
      if (state.error) { banner.hidden = false; banner.textContent = state.error; }
      else if (state.daemon) { banner.hidden = false; banner.textContent = "Docker daemon unreachable: " + state.daemon + " — reconnecting"; }
      else if (!state.up) { banner.hidden = false; banner.textContent = "The stack is not running (start it with clocal up " + ((state.targets || []).join(" ") || "TARGET") + ")"; }
      else banner.hidden = true;
      document.body.dataset.daemon = state.daemon ? "down" : "up";
      renderServices();
    });
  }
  connect();
})();
