// The service worker, served at /sw.js by web/pwa.py, which puts this release's app shell
// before this file as self.CC_SHELL = {version, offline, urls, icon, badge}.
//
// What it keeps: the public app shell (CSS, scripts, icons) and the offline page, nothing
// else. Pages and API answers always come from the network and are never stored, so a shared
// phone never shows the last person's inbox. A page the network cannot answer (load-shedding,
// no signal) gets the offline page instead of the browser's error.
(function () {
  "use strict";
  var SHELL = self.CC_SHELL || { version: "dev", offline: "/offline", urls: ["/offline"] };
  var PREFIX = "cc-shell-";
  var CACHE = PREFIX + SHELL.version;

  self.addEventListener("install", function (event) {
    event.waitUntil(
      caches.open(CACHE).then(function (cache) {
        // credentials "omit": the offline page is cached as a visitor sees it, whoever is signed in.
        return cache.addAll(SHELL.urls.map(function (url) {
          return new Request(url, { credentials: "omit", cache: "reload" });
        }));
      }).then(function () { return self.skipWaiting(); })
    );
  });

  self.addEventListener("activate", function (event) {
    event.waitUntil(
      caches.keys().then(function (names) {
        return Promise.all(names.filter(function (name) {
          return name.indexOf(PREFIX) === 0 && name !== CACHE;
        }).map(function (name) { return caches.delete(name); }));
      }).then(function () { return self.clients.claim(); })
    );
  });

  function sameOrigin(url) {
    return url.origin === self.location.origin;
  }

  self.addEventListener("fetch", function (event) {
    var request = event.request;
    if (request.method !== "GET") { return; }
    var url = new URL(request.url);
    if (!sameOrigin(url)) { return; }
    if (request.mode === "navigate") {
      // Network first, never stored; the offline page only when the network fails.
      event.respondWith(fetch(request).catch(function () {
        return caches.open(CACHE).then(function (cache) {
          return cache.match(SHELL.offline);
        }).then(function (page) {
          return page || Response.error();
        });
      }));
      return;
    }
    if (url.pathname.indexOf("/static/") === 0) {
      // Content-hashed, public files: the shell's copy if we have it, else the network.
      event.respondWith(caches.open(CACHE).then(function (cache) {
        return cache.match(request).then(function (hit) { return hit || fetch(request); });
      }));
    }
  });

  // -- push and notification clicks -----------------------------------------------------

  // Only a path on this site is ever opened: "/inbox/…", never "//elsewhere" or "https://…".
  function safeTarget(url) {
    if (typeof url !== "string" || url.charAt(0) !== "/" || url.charAt(1) === "/" ||
        url.indexOf("\\") !== -1) {
      return null;
    }
    var resolved = new URL(url, self.location.origin);
    return sameOrigin(resolved) ? resolved.pathname + resolved.search + resolved.hash : null;
  }

  self.addEventListener("push", function (event) {
    var data = {};
    try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
    var title = typeof data.title === "string" && data.title ? data.title : "Client Compass";
    var options = {
      body: typeof data.body === "string" ? data.body : "",
      tag: typeof data.tag === "string" && data.tag ? data.tag : "client-compass",
      data: { url: safeTarget(data.url) || "/inbox" },
      icon: SHELL.icon,
      badge: SHELL.badge,
      renotify: true
    };
    event.waitUntil(self.registration.showNotification(title, options));
  });

  // Focus a tab of ours and take it to `url`, or open one. Named on `self` so a test (and the
  // notification click) call the one same piece of logic.
  self.openTarget = function (url) {
    var target = safeTarget(url);
    if (!target) { return Promise.resolve(null); }
    return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
      var ours = list.filter(function (client) { return sameOrigin(new URL(client.url)); });
      var tab = ours.find(function (client) { return client.focused; }) || ours[0];
      if (!tab) { return self.clients.openWindow(target); }
      // focus() is allowed only while handling a click; elsewhere it rejects, and that is fine.
      return tab.focus().catch(function () { return tab; }).then(function (focused) {
        var client = focused || tab;
        if (!client.navigate) { return tell(client, target); }
        // navigate() refuses a tab this worker does not control: ask the page (pwa.js) instead.
        return client.navigate(target).then(function (navigated) {
          return navigated || tell(client, target);
        }, function () { return tell(client, target); });
      });
    });
  };

  function tell(client, target) {
    client.postMessage({ type: "cc:navigate", url: target });
    return client;
  }

  self.addEventListener("notificationclick", function (event) {
    event.notification.close();
    var data = event.notification.data || {};
    event.waitUntil(self.openTarget(data.url || "/inbox"));
  });
})();
