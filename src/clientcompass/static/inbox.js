// The live inbox: one EventSource per page, fed by the tenant's Redis stream (see
// inbox/stream.py). Events only say *what* changed; the server renders the fresh list,
// thread or header (escaped by Jinja), so no user text ever passes through innerHTML here.
(function () {
  "use strict";
  var root = document.querySelector("[data-inbox]");
  if (!root || !window.htmx) {
    return;
  }
  var conversationId = root.getAttribute("data-conversation-id") || "";
  var rowsUrl = root.getAttribute("data-rows-url") || "/inbox/rows";
  var baseTitle = document.title.replace(/^\(\d+\+?\) /, "");
  var timers = {};
  var coarse = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;

  function later(key, fn, ms) {
    clearTimeout(timers[key]);
    timers[key] = setTimeout(fn, ms);
  }

  function nearBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 120;
  }

  function scrollThread(force) {
    var box = document.getElementById("thread");
    if (box && (force || box.getAttribute("data-stick") !== "no")) {
      box.scrollTop = box.scrollHeight;
      window.scrollTo(0, document.body.scrollHeight);
    }
  }

  function refresh(target, url) {
    var el = document.getElementById(target);
    if (!el) {
      return Promise.resolve();
    }
    // Each region is its own source, so htmx queues refreshes per region (the latest wins)
    // instead of one region's request swallowing another's.
    // Offline, a refresh fails (htmx says so); the next live event or reconnect refreshes.
    return window.htmx.ajax("GET", url, { source: el, target: el, swap: "innerHTML" })
      .catch(function () { /* no connection: nothing to swap */ });
  }

  function refreshList() { later("list", function () { refresh("conversations", rowsUrl); }, 80); }
  function refreshThread() {
    if (!conversationId) { return; }
    later("thread", function () { refresh("thread", "/inbox/" + conversationId + "/thread"); }, 40);
  }
  function refreshHead() {
    if (!conversationId) { return; }
    later("head", function () { refresh("panel-head", "/inbox/" + conversationId + "/head"); }, 40);
  }
  function refreshComposer() {
    if (!conversationId) { return; }
    later("composer", function () { refresh("composer", "/inbox/" + conversationId + "/composer"); }, 40);
  }

  function updateTitle() {
    var rows = document.querySelector("#conversations [data-unread-total]");
    var total = rows ? parseInt(rows.getAttribute("data-unread-total"), 10) || 0 : 0;
    var shown = total > 99 ? "99+" : String(total);
    document.title = (total > 0 ? "(" + shown + ") " : "") + baseTitle;
  }

  function composerClosed() {
    return !!document.querySelector('#composer [data-window="closed"]') &&
      !document.querySelector('#composer [data-window="open"]');
  }

  function handle(data) {
    var mine = data.conversation_id && data.conversation_id === conversationId;
    if (data.type === "resync") {
      refreshList(); refreshThread(); refreshHead(); return;
    }
    refreshList();
    if (!mine) { return; }
    if (/^(message|media|conversation\.note|conversation\.read)/.test(data.type)) { refreshThread(); }
    if (/^conversation\.(assigned|status|labels)/.test(data.type)) { refreshHead(); refreshThread(); }
    if (data.type === "message.created" && data.direction === "inbound" && composerClosed()) {
      refreshComposer();
    }
  }

  // Live events. The browser reconnects by itself and sends Last-Event-ID, so nothing is
  // missed; the first connection resumes from the stream position the page was built at.
  var opened = false;
  function connect() {
    var last = root.getAttribute("data-last-event-id") || "";
    // `viewing` marks this person as looking at the open conversation: no push for it.
    var query = [];
    if (last) { query.push("last_event_id=" + encodeURIComponent(last)); }
    if (conversationId) { query.push("viewing=" + encodeURIComponent(conversationId)); }
    var source = new EventSource("/inbox/events" + (query.length ? "?" + query.join("&") : ""));
    source.onopen = function () {
      root.setAttribute("data-live", "on");
      if (opened) { refreshList(); refreshThread(); }
      opened = true;
    };
    source.onmessage = function (event) {
      if (event.lastEventId) { root.setAttribute("data-last-event-id", event.lastEventId); }
      try { handle(JSON.parse(event.data)); } catch (e) { /* not ours */ }
    };
    source.onerror = function () {
      root.setAttribute("data-live", "off");
      if (source.readyState === EventSource.CLOSED) {
        // Refused (signed out?) or gone: try again a little later, from where we were.
        setTimeout(connect, 5000);
      }
    };
  }
  connect();

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "thread") {
      event.detail.target.setAttribute("data-stick", nearBottom(event.detail.target) ? "yes" : "no");
    }
  });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var id = event.detail.target && event.detail.target.id;
    if (id === "conversations") { updateTitle(); }
    if (id === "thread") { scrollThread(false); }
    if (id === "composer") { wireComposer(); wireReplyKey(); }
  });

  // Selects that act at once (assignee, status filter, snooze).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) {
      if (el.value !== "" || el.name !== "until") { el.form.requestSubmit(); }
    }
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-template-select")) {
      chooseTemplate(el);
    }
    if (el instanceof HTMLInputElement && el.hasAttribute("data-upload")) {
      upload(el);
    }
  });

  function chooseTemplate(select) {
    var form = select.form;
    form.querySelectorAll("[data-template-vars]").forEach(function (set) {
      var on = set.getAttribute("data-template-vars") === select.value;
      set.hidden = !on;
      set.disabled = !on;
    });
    window.htmx.ajax("GET", "/inbox/" + conversationId + "/template-preview", {
      target: "#template-preview", swap: "innerHTML", source: form, values: window.htmx.values(form)
    });
  }

  // Attachments: uploaded first (with progress), then sent with the reply by id.
  function upload(input) {
    var form = input.form;
    var file = input.files && input.files[0];
    if (!form || !file) { return; }
    var bar = form.querySelector("[data-upload-progress]");
    var state = form.querySelector("[data-upload-state]");
    var hidden = form.querySelector("[data-media-id]");
    var send = form.querySelector("[data-send]");
    var body = new FormData();
    body.append("file", file);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/media");
    var meta = document.querySelector('meta[name="csrf-token"]');
    xhr.setRequestHeader("X-CSRF-Token", meta ? meta.getAttribute("content") : "");
    bar.hidden = false; bar.value = 0; send.disabled = true;
    state.textContent = "Uploading " + file.name + "…";
    xhr.upload.onprogress = function (event) {
      if (event.lengthComputable) { bar.value = Math.round((event.loaded / event.total) * 100); }
    };
    xhr.onload = function () {
      send.disabled = false;
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = {}; }
      if (xhr.status === 201 && answer.id) {
        hidden.value = answer.id; bar.value = 100;
        state.textContent = file.name + " ready to send";
        state.setAttribute("data-ready", "yes");
      } else {
        bar.hidden = true; hidden.value = "";
        state.textContent = (answer.error && answer.error.message) || "The file could not be uploaded.";
      }
    };
    xhr.onerror = function () {
      send.disabled = false; bar.hidden = true;
      state.textContent = "The file could not be uploaded. Check your connection and try again.";
    };
    xhr.send(body);
  }

  // Composer: Enter sends on a desktop (Shift+Enter for a new line); `/shortcut` offers
  // canned responses, built with textContent.
  function cannedMatches(text) {
    var list = document.querySelectorAll("[data-canned] li");
    var wanted = text.slice(1).toLowerCase();
    var found = [];
    list.forEach(function (li) {
      if (li.getAttribute("data-shortcut").indexOf(wanted) === 0) { found.push(li); }
    });
    return found.slice(0, 6);
  }

  function showSuggestions(textarea) {
    var box = textarea.form && textarea.form.querySelector("[data-canned-suggestions]");
    if (!box) { return []; }
    box.replaceChildren();
    var value = textarea.value;
    var matches = /^\/[\w-]*$/.test(value) ? cannedMatches(value) : [];
    matches.forEach(function (li) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "suggestion";
      var key = document.createElement("strong");
      key.textContent = "/" + li.getAttribute("data-shortcut");
      var text = document.createElement("span");
      text.textContent = " " + li.getAttribute("data-body");
      button.append(key, text);
      button.addEventListener("click", function () { useCanned(textarea, li); });
      item.append(button);
      box.append(item);
    });
    box.hidden = matches.length === 0;
    return matches;
  }

  function useCanned(textarea, li) {
    textarea.value = li.getAttribute("data-body");
    showSuggestions(textarea);
    textarea.focus();
  }

  function wireComposer() {
    var textarea = document.querySelector('#composer textarea[name="body"]');
    if (!textarea || textarea.getAttribute("data-wired")) { return; }
    textarea.setAttribute("data-wired", "yes");
    textarea.addEventListener("input", function () { showSuggestions(textarea); });
    textarea.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) { return; }
      var matches = showSuggestions(textarea);
      if (matches.length) {
        event.preventDefault();
        useCanned(textarea, matches[0]);
        return;
      }
      if (!coarse) {
        event.preventDefault();
        if (textarea.value.trim() || (textarea.form.querySelector("[data-media-id]") || {}).value) {
          textarea.form.requestSubmit();
        }
      }
    });
  }
  wireComposer();

  // Replies that survive a lost connection. Each draft carries a key made here (client_key):
  // however often it is sent (again on reconnect, from a second tab) the server stores it
  // once. Offline, the reply stays in the composer, says it will go when the phone is back
  // online, and goes then. A refusal (window closed, signed out) is left to the server's own
  // page, as a plain form post would be.
  var KEYS = "cc:client-key:";
  var waiting = null;
  var sending = false;

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }

  function keyStore(form, value) {
    var name = KEYS + form.getAttribute("action");
    try {
      if (value === undefined) { return localStorage.getItem(name); }
      if (value) { localStorage.setItem(name, value); } else { localStorage.removeItem(name); }
    } catch (e) { /* storage blocked: the key lives as long as the page */ }
    return null;
  }

  function sendState(form, text) {
    var note = form.querySelector("[data-send-state]");
    if (!note) {
      note = document.createElement("p");
      note.setAttribute("role", "status");
      note.setAttribute("aria-live", "polite");
      note.setAttribute("data-send-state", "");
      note.setAttribute("data-testid", "send-state");
      form.insertBefore(note, form.querySelector(".composer-actions"));
    }
    note.textContent = text;
    note.className = text ? "notice small" : "";
    form.setAttribute("data-pending", text ? "yes" : "no");
  }

  function wireReplyKey() {
    var form = document.querySelector('#composer form[data-window="open"]');
    if (!form || form.querySelector('[name="client_key"]')) { return; }
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "client_key";
    input.value = keyStore(form) || newKey();
    form.append(input);
    sendState(form, "");
  }
  wireReplyKey();

  function waitForConnection(form) {
    waiting = form;
    sendState(form, "Not sent yet: no connection. Will send when you're back online.");
    // Online but the network failed (load-shedding at the tower): try again now and then too.
    if (navigator.onLine !== false) { later("resend", function () { deliver(form); }, 15000); }
  }

  function deliver(form) {
    if (sending || !form.isConnected) { return; }
    var key = form.querySelector('[name="client_key"]');
    if (key) { keyStore(form, key.value); }
    if (navigator.onLine === false) { waitForConnection(form); return; }
    sending = true;
    sendState(form, "Sending…");
    var meta = document.querySelector('meta[name="csrf-token"]');
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      headers: { "X-CSRF-Token": meta ? meta.getAttribute("content") : "" }
    }).then(function (response) {
      sending = false;
      var landed = new URL(response.url, window.location.href).pathname;
      if (response.ok && response.redirected && landed === "/inbox/" + conversationId) {
        waiting = null;
        keyStore(form, null);
        window.location.assign(landed);
      } else {
        HTMLFormElement.prototype.submit.call(form);
      }
    }, function () {
      sending = false;
      waitForConnection(form);
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !(form instanceof HTMLFormElement) ||
        !form.matches('#composer form[data-window="open"]') || !window.fetch) {
      return;
    }
    event.preventDefault();
    deliver(form);
  });

  window.addEventListener("online", function () {
    if (waiting) { deliver(waiting); }
  });

  // The window countdown, and the switch to templates when it reaches zero.
  setInterval(function () {
    var el = document.querySelector("[data-closes-at]");
    if (!el) { return; }
    var left = Math.floor((Date.parse(el.getAttribute("data-closes-at")) - Date.now()) / 1000);
    if (left <= 0) {
      refreshComposer(); refreshThread();
      el.removeAttribute("data-closes-at");
      return;
    }
    var minutes = Math.max(1, Math.floor(left / 60));
    el.textContent = "Window closes in " + (minutes >= 60 ? Math.floor(minutes / 60) + " h " + (minutes % 60) + " min" : minutes + " min");
  }, 15000);

  // Desktop shortcuts: j / k next and previous conversation, r reply, e resolve.
  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement ||
        (el instanceof HTMLElement && el.isContentEditable)) {
      if (event.key === "Escape" && el instanceof HTMLElement) { el.blur(); }
      return;
    }
    var links = Array.prototype.slice.call(document.querySelectorAll("#conversations a.conversation"));
    var at = links.findIndex(function (a) { return a.classList.contains("selected"); });
    if (event.key === "j" || event.key === "k") {
      var next = links[event.key === "j" ? at + 1 : Math.max(0, at - 1)];
      if (next && next !== links[at]) { event.preventDefault(); window.location.assign(next.href); }
    } else if (event.key === "r") {
      var reply = document.querySelector('#composer textarea[name="body"], #composer [data-template-select]');
      if (reply) { event.preventDefault(); reply.focus(); }
    } else if (event.key === "e") {
      var resolve = document.querySelector('[data-shortcut="resolve"]');
      if (resolve) { event.preventDefault(); resolve.click(); }
    }
  });

  updateTitle();
  scrollThread(true);
})();
