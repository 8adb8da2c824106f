// n-VM explorer: copy buttons, and live fragments refreshed when /ws/live announces a block.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const done = () => { button.classList.add("copied"); setTimeout(() => button.classList.remove("copied"), 1200); };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(button.dataset.copy).then(done, () => {});
  else { const t = document.createElement("textarea"); t.value = button.dataset.copy; document.body.appendChild(t); t.select(); document.execCommand("copy"); t.remove(); done(); }
});

// One /ws/live connection a page; parts of the page subscribe to its block events.
const liveFeed = (() => {
  const listeners = [];
  let started = false;
  const connect = () => {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/live");
    ws.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "block") listeners.forEach((f) => f(event));
    };
    ws.onclose = () => setTimeout(connect, 1500);
  };
  return (listener) => {
    if (!("WebSocket" in window)) return;
    listeners.push(listener);
    if (!started) { started = true; connect(); }
  };
})();

// Server-rendered fragments ([data-live] = the URL of their fresh copy), fetched again on each block
// (an identity's part only when the block touched that identity).
(function live() {
  const parts = [...document.querySelectorAll("[data-live]")];
  if (!parts.length) return;
  let pending = false;
  const refresh = async (part) => {
    const response = await fetch(part.dataset.live, { headers: { "X-Requested-With": "live" } });
    if (response.ok) part.innerHTML = await response.text();
  };
  liveFeed((event) => {
    if (pending) return;
    const wanted = parts.filter((p) => !p.dataset.idCom || (event.parties || []).includes(p.dataset.idCom));
    if (!wanted.length) return;
    pending = true;
    Promise.all(wanted.map(refresh)).finally(() => { pending = false; });
  });
})();

// The home page's live trace: each block event from /ws/live, newest first, its transactions as the node ran them.
(function trace() {
  const box = document.getElementById("live-trace");
  if (!box) return;
  const KEEP = 8, ROWS = 12;
  const cell = (tag, text, cls) => { const e = document.createElement(tag); e.textContent = text; if (cls) e.className = cls; return e; };
  const render = (event) => {
    const block = document.createElement("article");
    block.className = "trace-block";
    const head = cell("h3", "");
    const link = cell("a", "Block " + event.height); link.href = "/block/" + event.height;
    const s = event.schedule || {};
    let how = s.strategy || "";
    if (s.batches) how += " (" + s.batches.length + " batch" + (s.batches.length === 1 ? "" : "es") + ")";
    if (s.shards) how += " (" + Object.keys(s.shards).length + " shards, " + (s.shared || 0) + " shared)";
    if (s.stages_ms) how += " · " + Object.entries(s.stages_ms).map(([stage, ms]) => stage + " " + ms + " ms").join(", ");
    if (s.fallback) how += " · ran sequentially: " + s.fallback;
    head.append(link, cell("span", " · " + event.tx_count + " transaction" + (event.tx_count === 1 ? "" : "s") + " · " + how, "muted"));
    block.append(head);
    if (event.txs && event.txs.length) {
      const table = document.createElement("table"); table.className = "list compact";
      const tr = document.createElement("tr");
      ["Transaction", "VM", "Status", "Writes", "Time"].forEach((h, i) => { const th = cell("th", h, i > 2 ? "num" : ""); th.scope = "col"; tr.append(th); });
      const thead = document.createElement("thead"); thead.append(tr); table.append(thead);
      const body = document.createElement("tbody");
      event.txs.slice(0, ROWS).forEach((t) => {
        const row = document.createElement("tr");
        const a = cell("a", t.id.slice(0, 10) + "…" + t.id.slice(-6), "mono"); a.href = "/tx/" + t.id; a.title = t.id;
        const td = document.createElement("td"); td.append(a);
        const vm = document.createElement("td"); vm.append(cell("span", t.vm.toUpperCase(), "badge vm-" + t.vm));
        row.append(td, vm, cell("td", t.success ? "success" : "failed " + (t.code || ""), t.success ? "ok" : "bad"),
          cell("td", String(t.writes), "num"), cell("td", t.time_us == null ? "—" : t.time_us.toLocaleString("en") + " µs", "num"));
        body.append(row);
      });
      table.append(body);
      const wrap = document.createElement("div"); wrap.className = "table-wrap"; wrap.append(table);
      block.append(wrap);
      if (event.txs.length > ROWS) block.append(cell("p", "… and " + (event.tx_count - ROWS) + " more", "muted small"));
    }
    box.prepend(block);
    while (box.children.length > KEEP) box.lastElementChild.remove();
  };
  liveFeed(render);
})();
