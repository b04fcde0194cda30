"use strict";
// The labelling page. The token comes from the page URL and goes with every request; the
// holder id lives in sessionStorage, so a reload keeps this tab's leases and a second tab
// gets its own.
(function () {
  const params = new URLSearchParams(location.search);
  const token = params.get("token") || "";
  let holder = sessionStorage.getItem("polymodal-holder");
  if (!holder) {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    holder = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    sessionStorage.setItem("polymodal-holder", holder);
  }
  const $ = (id) => document.getElementById(id);
  let classes = [];
  let items = [];      // leased items, in order; items[0] is shown
  let doneInBatch = []; // ids this tab finished, for the batch list
  let busy = false;
  let leaseSeconds = 600;

  async function api(method, path, body) {
    const r = await fetch(path, {
      method,
      headers: { "content-type": "application/json", "x-polymodal-token": token },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let j = null;
    try { j = await r.json(); } catch (e) { j = { error: "bad response (" + r.status + ")" }; }
    if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
    return j;
  }
  function withToken(url) { return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token); }
  function setError(msg) { $("error").textContent = msg || ""; }
  function setStatus(msg) { $("status").textContent = msg || ""; }

  function showProgress(p) {
    if (!p) return;
    $("batch-progress").textContent = p.batch_total ? `${p.batch_done}/${p.batch_total}` + (p.round ? ` (round ${p.round})` : "") : "–";
    $("batch-bar").max = Math.max(1, p.batch_total); $("batch-bar").value = p.batch_done;
    $("overall-progress").textContent = `${p.labelled}/${p.train} labelled`;
    $("overall-bar").max = Math.max(1, p.train); $("overall-bar").value = p.labelled;
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function render() {
    const box = $("modalities");
    box.replaceChildren();
    const cur = items[0];
    const buttons = document.querySelectorAll("#classes button, #skip");
    buttons.forEach((b) => (b.disabled = !cur));
    const list = $("batch");
    list.replaceChildren();
    for (const id of doneInBatch) list.appendChild(el("li", { class: "done" }, id + " ✓"));
    items.forEach((it, i) => list.appendChild(el("li", i === 0 ? { class: "current" } : {}, it.id)));
    if (!cur) {
      $("sample-id").textContent = "";
      $("sample-meta").textContent = "";
      box.appendChild(el("p", { id: "empty" }, "Nothing left to label in the queue. Run the next round, or wait for leases held by other tabs to expire."));
      return;
    }
    $("sample-id").textContent = cur.id;
    $("sample-meta").textContent = `— round ${cur.round}, rank ${cur.rank + 1}`;
    for (const m of cur.sample.modalities) {
      const card = el("div", { class: "modality" });
      card.appendChild(el("h4", {}, `${m.name} (${m.kind})`));
      if (!m.present) {
        card.appendChild(el("p", { class: "missing" }, "missing for this sample"));
      } else {
        if (m.image) card.appendChild(el("img", { src: withToken(m.image), alt: `${m.name} of ${cur.id}` }));
        if (m.audio) {
          const a = el("audio", { controls: "", preload: "auto", src: withToken(m.audio), "aria-label": `${m.name} of ${cur.id} (play with .)` });
          card.appendChild(a);
        }
        if (m.text !== undefined && m.text !== null) card.appendChild(el("blockquote", {}, m.text));
        if (m.vector) {
          const v = m.vector;
          const f = (x) => Number(x).toFixed(3);
          card.appendChild(el("div", { class: "vec" },
            `dim ${v.dim}  min ${f(v.min)}  max ${f(v.max)}  mean ${f(v.mean)}\nfirst: ${v.first.map(f).join(", ")}`));
        }
      }
      if (m.note) card.appendChild(el("p", { class: "note" }, m.note));
      box.appendChild(card);
    }
  }

  async function lease() {
    const j = await api("POST", "api/lease", { holder });
    const known = new Set(items.map((i) => i.id));
    // Keep the current order; append newly leased items.
    const fresh = new Map(j.items.map((i) => [i.id, i]));
    items = items.filter((i) => fresh.has(i.id)).concat(j.items.filter((i) => !known.has(i.id)));
    showProgress(j.progress);
    render();
  }

  // body[data-busy] is "1" while a request is in flight: the page is settled when it is "".
  function setBusy(b) { busy = b; document.body.dataset.busy = b ? "1" : ""; }

  async function act(fn) {
    if (busy) return;
    setBusy(true);
    setError("");
    try { await fn(); } catch (e) { setError(e.message); } finally { setBusy(false); }
  }

  function label(name) {
    act(async () => {
      const cur = items[0];
      if (!cur) return;
      setStatus(`saving ${cur.id}…`);
      const j = await api("POST", "api/label", { holder, id: cur.id, label: name });
      // Shown as saved only now: the server answers after the commit.
      setStatus(`saved: ${j.id} → ${j.label}`);
      doneInBatch.push(cur.id);
      items.shift();
      showProgress(j.progress);
      render();
      if (items.length === 0) await lease();
    });
  }

  function skip() {
    act(async () => {
      const cur = items[0];
      if (!cur) return;
      const j = await api("POST", "api/skip", { holder, id: cur.id });
      setStatus(`skipped: ${j.id}`);
      items.shift();
      showProgress(j.progress);
      render();
      if (items.length === 0) await lease();
    });
  }

  function undo() {
    act(async () => {
      const j = await api("POST", "api/undo", { holder });
      const u = j.undone;
      setStatus(`undone: ${u.undone} of ${u.id}` + (u.restored ? ` (label back to ${u.restored})` : ""));
      doneInBatch = doneInBatch.filter((x) => x !== u.id);
      await lease();
      // Bring the undone item to the front so it is labelled next.
      const i = items.findIndex((x) => x.id === u.id);
      if (i > 0) items.unshift(items.splice(i, 1)[0]);
      render();
    });
  }

  // "." is never a class key (those are digits and letters), so it can play the first player.
  function playPause() {
    const a = document.querySelector("#modalities audio");
    if (!a) return;
    if (a.paused || a.ended) { a.currentTime = a.ended ? 0 : a.currentTime; a.play().catch((e) => setError("cannot play: " + e.message)); }
    else a.pause();
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === " " ) { ev.preventDefault(); skip(); return; }
    if (ev.key === "Backspace") { ev.preventDefault(); undo(); return; }
    if (ev.key === ".") { ev.preventDefault(); playPause(); return; }
    const k = ev.key.toLowerCase();
    const c = classes.find((c) => c.key === k);
    if (c) { ev.preventDefault(); label(c.name); }
  });

  async function start() {
    setBusy(true);
    try {
      const s = await api("GET", "api/state");
      $("dataset").textContent = "— " + s.dataset;
      classes = s.classes;
      leaseSeconds = s.lease_seconds;
      const box = $("classes");
      for (const c of classes) {
        const b = el("button", { type: "button", "data-label": c.name, title: `Label as ${c.name} (${c.key})` });
        b.appendChild(el("span", {}, c.name + " "));
        b.appendChild(el("kbd", {}, c.key));
        b.addEventListener("click", () => label(c.name));
        box.appendChild(b);
      }
      $("skip").addEventListener("click", skip);
      $("undo").addEventListener("click", undo);
      showProgress(s.progress);
      await lease();
      // Renew leases well before they expire while the page stays open.
      setInterval(() => { act(lease); }, Math.max(1000, leaseSeconds * 1000 / 3));
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  }
  start();
})();
