// n-VM explorer: copy buttons, and live fragments refreshed when /ws/live announces a block.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const done = () => { button.classList.add("copied"); setTimeout(() => button.classList.remove("copied"), 1200); };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(button.dataset.copy).then(done, () => {});
  else { const t = document.createElement("textarea"); t.value = button.dataset.copy; document.body.appendChild(t); t.select(); document.execCommand("copy"); t.remove(); done(); }
});

(function live() {
  const parts = [...document.querySelectorAll("[data-live]")];
  if (!parts.length || !("WebSocket" in window)) return;
  let pending = false;
  const refresh = async (part) => {
    const response = await fetch(part.dataset.live, { headers: { "X-Requested-With": "live" } });
    if (response.ok) part.innerHTML = await response.text();
  };
  const connect = () => {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/live");
    ws.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.type !== "block" || pending) return;
      const wanted = parts.filter((p) => !p.dataset.idCom || (event.parties || []).includes(p.dataset.idCom));
      if (!wanted.length) return;
      pending = true;
      Promise.all(wanted.map(refresh)).finally(() => { pending = false; });
    };
    ws.onclose = () => setTimeout(connect, 1500);
  };
  connect();
})();
