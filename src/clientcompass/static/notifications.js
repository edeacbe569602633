// The notifications settings page: "Enable notifications on this device".
// Asks the browser for permission, subscribes through the service worker (registered at
// scope "/" by app.js), and stores the subscription with POST /api/v1/push-subscriptions,
// which also sends a test notification. Every outcome is shown: not supported, blocked
// (and how to unblock), on, or what went wrong.
(function () {
  "use strict";
  var section = document.querySelector("[data-push]");
  if (!section) { return; }
  var button = section.querySelector("[data-push-enable]");
  var progress = section.querySelector("[data-push-progress]");
  var errorText = section.querySelector("[data-push-error]");
  // Which listed device is this one: the server knows devices, not which browser is asking.
  var STORE = "cc-push-device";
  var WORKER_WAIT_MS = 15000;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function show(state, message) {
    section.querySelectorAll("[data-push-state]").forEach(function (el) {
      el.hidden = el.getAttribute("data-push-state") !== state;
    });
    if (state === "error") { errorText.textContent = message; }
    section.setAttribute("data-push-status", state || "");
  }

  function working(text) {
    progress.textContent = text;
    button.disabled = Boolean(text);
    button.setAttribute("aria-busy", text ? "true" : "false");
  }

  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  function remembered() {
    try { return window.localStorage.getItem(STORE); } catch (e) { return null; }
  }

  function remember(id) {
    try { window.localStorage.setItem(STORE, id); } catch (e) { /* private mode: no badge */ }
  }

  function listedIds() {
    return (section.getAttribute("data-device-ids") || "").split(" ").filter(Boolean);
  }

  // The VAPID key as the bytes subscribe() wants (it arrives base64url, unpadded).
  function keyBytes(base64url) {
    var padded = base64url.replace(/-/g, "+").replace(/_/g, "/");
    padded += "===".slice((padded.length + 3) % 4);
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function sameKey(buffer, bytes) {
    if (!buffer) { return false; }
    var other = new Uint8Array(buffer);
    if (other.length !== bytes.length) { return false; }
    for (var i = 0; i < bytes.length; i += 1) {
      if (other[i] !== bytes[i]) { return false; }
    }
    return true;
  }

  function markThisDevice(id) {
    var name = document.querySelector('[data-device-id="' + id + '"] strong');
    if (!name || name.parentNode.querySelector(".badge")) { return; }
    var badge = document.createElement("span");
    badge.className = "badge";
    badge.setAttribute("data-this-device", "");
    badge.textContent = "This device";
    name.after(" ", badge);
  }

  // Old Safari takes a callback instead of returning a promise.
  function askPermission() {
    return new Promise(function (resolve) {
      var answer = window.Notification.requestPermission(resolve);
      if (answer && typeof answer.then === "function") { answer.then(resolve); }
    });
  }

  function workerReady() {
    return Promise.race([
      navigator.serviceWorker.ready,
      new Promise(function (resolve, reject) {
        window.setTimeout(function () {
          reject(new Error("the app's background worker did not start; reload the page"));
        }, WORKER_WAIT_MS);
      }),
    ]);
  }

  function subscription(registration, key) {
    return registration.pushManager.getSubscription().then(function (existing) {
      if (existing && sameKey(existing.options && existing.options.applicationServerKey, key)) {
        return existing;
      }
      // Made for another server key (ours changed): the push service would refuse us.
      var cleared = existing ? existing.unsubscribe() : Promise.resolve(true);
      return cleared.then(function () {
        return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
      });
    });
  }

  function save(sub) {
    return fetch("/api/v1/push-subscriptions", {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRF-Token": csrfToken(),
      },
      body: JSON.stringify(sub.toJSON()),
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (response.ok && body && body.id) { return body; }
        var said = body && body.error && body.error.message;
        if (response.status === 401) {
          said = said || "You were signed out.";
          said += " Reload the page and sign in again.";
        }
        throw new Error(said || "the server answered " + response.status);
      });
    });
  }

  function explain(error) {
    if (error && error.name === "NotAllowedError") {
      if (window.Notification.permission === "denied") { show("denied"); return; }
    }
    var why = (error && error.message) || String(error);
    show("error", "Notifications could not be turned on: " + why + " Try again.");
  }

  function enable() {
    if (!supported()) { show("unsupported"); return; }
    var key;
    try {
      key = keyBytes(section.getAttribute("data-vapid-key") || "");
    } catch (e) {
      show("error", "Notifications are not set up on this server yet. Tell your administrator.");
      return;
    }
    var leaving = false;
    show(null);
    working("Asking your browser for permission…");
    askPermission().then(function (permission) {
      if (permission === "denied") { show("denied"); return null; }
      if (permission !== "granted") {
        show("error", "Notifications were not allowed. Tap the button again and choose Allow.");
        return null;
      }
      working("Connecting to this browser's push service…");
      return workerReady().then(function (registration) {
        return subscription(registration, key);
      }).then(function (sub) {
        working("Saving this device…");
        return save(sub);
      }).then(function (device) {
        remember(device.id);
        leaving = true;
        working("Notifications are on. Reloading…");
        window.location.assign("/settings/notifications?saved=device-added");
      });
    }).catch(explain).then(function () {
      if (!leaving) { working(""); }
    });
  }

  function initial() {
    if (!supported()) {
      show("unsupported");
      button.disabled = true;
      return;
    }
    if (window.Notification.permission === "denied") { show("denied"); return; }
    var id = remembered();
    if (window.Notification.permission === "granted" && id && listedIds().indexOf(id) !== -1) {
      show("enabled");
      markThisDevice(id);
      button.textContent = "Send a test notification again";
      return;
    }
    show(null);
  }

  button.addEventListener("click", enable);
  initial();
})();
