"use strict";
// The simulator's chat: one poll in flight at a time, every message keyed by its id (so none is
// shown twice and ticks update in place), taps posted as Twilio posts them.
(function () {
  const log = document.getElementById("log");
  const body = document.getElementById("body");
  const sendButton = document.getElementById("send-button");
  const DEVANAGARI = /[\u0900-\u097f]/;
  const FINAL_IN = new Set(["PROCESSED", "FAILED"]);
  const FINAL_OUT = new Set(["READ", "FAILED", "UNDELIVERED"]);
  let phone = "", generation = 0, busy = false, timer = null, lastRead = "";
  let shown = new Map(); // "in:12" / "out:7" -> {el, status}

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function clock(iso) {
    const d = new Date(iso);
    return d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
  }
  function ticks(status, mine) {
    // Mine: Thok has it (✓) / has read it (✓✓ blue, processed). Thok's: sent ✓, delivered ✓✓, read ✓✓ blue.
    if (status === "FAILED" || status === "UNDELIVERED") return {text: "⚠", cls: "ticks"};
    if (mine) return status === "PROCESSED" ? {text: "✓✓", cls: "ticks read"} : {text: "✓", cls: "ticks"};
    if (status === "READ") return {text: "✓✓", cls: "ticks read"};
    if (status === "DELIVERED") return {text: "✓✓", cls: "ticks"};
    return {text: "✓", cls: "ticks"};
  }
  function setMeta(meta, at, status, mine, error) {
    meta.textContent = clock(at);
    const t = ticks(status, mine);
    meta.appendChild(el("span", t.cls, t.text));
    meta.title = status.toLowerCase();
    if (error) meta.appendChild(el("span", "reason", "Not delivered: " + error));
  }
  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function system(text) { log.appendChild(el("div", "msg system", text)); scrollDown(); }

  function choicesFor(m) {
    const box = el("div", "choices");
    const short = m.choices.length <= 3 && m.choices.every((c) => c.title.length <= 20);
    if (short) {
      for (const c of m.choices) {
        const b = el("button", "", c.title);
        b.type = "button";
        b.dataset.payload = c.id;
        b.addEventListener("click", () => send(c.title, "button", c.id));
        box.appendChild(b);
      }
      return box;
    }
    const toggle = el("button", "", "☰ " + (DEVANAGARI.test(m.body) ? "छान्नुहोस्" : "Choose"));
    toggle.type = "button";
    const rows = el("div", "list-rows");
    toggle.addEventListener("click", () => rows.classList.toggle("open"));
    for (const c of m.choices) {
      const b = el("button", "", c.title);
      b.type = "button";
      b.dataset.payload = c.id;
      b.addEventListener("click", () => { rows.classList.remove("open"); send(c.title, "list", c.id); });
      rows.appendChild(b);
    }
    box.append(toggle, rows);
    return box;
  }

  function render(key, m, mine) {
    const known = shown.get(key);
    if (known) {
      if (known.status !== m.status) {
        setMeta(known.meta, m.at, m.status, mine, m.error);
        known.el.classList.toggle("failed", m.status === "FAILED" || m.status === "UNDELIVERED");
        known.status = m.status;
      }
      return false;
    }
    const div = el("div", "msg " + (mine ? "mine" : "thok"), m.body);
    div.dataset.key = key;
    if (m.status === "FAILED" || m.status === "UNDELIVERED") div.classList.add("failed");
    if (!mine && m.media_url) { // a document sent with the text (the PDF statement), as WhatsApp shows it
      const a = el("a", "", "📄 PDF");
      a.href = m.media_url; a.target = "_blank"; a.rel = "noopener";
      div.appendChild(document.createElement("br"));
      div.appendChild(a);
    }
    if (!mine && m.choices && m.choices.length) div.appendChild(choicesFor(m));
    const meta = el("span", "meta");
    setMeta(meta, m.at, m.status, mine, m.error);
    div.appendChild(meta);
    log.appendChild(div);
    shown.set(key, {el: div, meta: meta, status: m.status, id: m.id, mine: mine});
    return true;
  }

  function cursor(prefix, final) {
    // Re-ask from the oldest message whose ticks may still change; else from the newest.
    let open = null, newest = 0;
    for (const [key, v] of shown) {
      if (!key.startsWith(prefix)) continue;
      newest = Math.max(newest, v.id);
      if (!final.has(v.status)) open = open === null ? v.id : Math.min(open, v.id);
    }
    return open === null ? newest : open - 1;
  }

  async function poll() {
    if (!phone || busy) return;
    busy = true;
    const mine = generation;
    try {
      const q = new URLSearchParams({phone: phone, after_in: cursor("in:", FINAL_IN), after_out: cursor("out:", FINAL_OUT)});
      const res = await fetch("/simulator/messages?" + q);
      if (!res.ok || mine !== generation) return;
      const data = await res.json();
      const events = data.inbound.map((m) => ({out: false, m: m}));
      for (const m of data.outbound) {
        if (!m.shown) break; // keep the order: wait until this reply has left
        events.push({out: true, m: m});
      }
      events.sort((a, b) => (a.m.at < b.m.at ? -1 : a.m.at > b.m.at ? 1 : a.out - b.out));
      let added = false;
      for (const {out, m} of events) added = render((out ? "out:" : "in:") + m.id, m, !out) || added;
      if (added) scrollDown();
      const unread = data.outbound.filter((m) => m.shown && (m.status === "SENT" || m.status === "DELIVERED"));
      const ids = unread.map((m) => m.id).join(",");
      if (ids && ids !== lastRead) { // the phone has shown them: "read", through the status webhook
        lastRead = ids;
        fetch("/simulator/read", {method: "POST", body: new URLSearchParams({phone: phone})});
      }
    } catch (e) {
      // the demo server restarting: try again on the next tick
    } finally {
      busy = false;
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(async () => { await poll(); schedule(); }, document.hidden ? 5000 : 1200);
  }

  async function send(text, tap, payload) {
    if (!phone || !text) return false;
    const form = new URLSearchParams({phone: phone, body: text});
    if (tap) { form.set("tap", tap); form.set("payload", payload); }
    const res = await fetch("/simulator/send", {method: "POST", body: form});
    if (!res.ok) {
      let reason = "HTTP " + res.status;
      try { reason = (await res.json()).error || reason; } catch (e) { /* not JSON */ }
      system("Not sent: " + reason);
      return false;
    }
    await poll();
    return true;
  }

  function choose(number, name, kind) {
    phone = number;
    generation += 1;
    shown = new Map();
    lastRead = "";
    log.textContent = "";
    document.getElementById("who-name").textContent = name || number;
    document.getElementById("who-meta").textContent = kind ? `You are ${name} (${kind}) · ${number}` : `${number} (not a registered party)`;
    const avatar = document.getElementById("who-avatar");
    avatar.textContent = (name || "?").slice(0, 1);
    avatar.className = "avatar " + (kind || "");
    for (const b of document.querySelectorAll(".party")) b.classList.toggle("active", b.dataset.phone === number);
    body.disabled = false;
    sendButton.disabled = false;
    body.placeholder = kind === "wholesaler" ? "e.g. OFFER TK-… 4500 tomorrow, or tap a button" : "e.g. 2 bora chamal, 5 ctn wai wai";
    history.replaceState(null, "", "#" + encodeURIComponent(number));
    body.focus();
    poll();
  }

  for (const b of document.querySelectorAll(".party")) {
    b.addEventListener("click", () => choose(b.dataset.phone, b.dataset.name, b.dataset.kind));
  }
  document.getElementById("other").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = document.getElementById("other-phone").value.trim();
    if (v) choose(v, "", "");
  });
  document.getElementById("send").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = body.value;
    if (!text.trim()) return;
    body.value = "";
    if (!(await send(text))) body.value = text; // refused: keep what was written
  });
  const start = decodeURIComponent(location.hash.slice(1));
  const party = start && document.querySelector(`.party[data-phone="${CSS.escape(start)}"]`);
  if (party) party.click(); else if (start) choose(start, "", "");
  schedule();
})();
