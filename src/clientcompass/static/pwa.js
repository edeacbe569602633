// The installable app: registers the service worker (/sw.js, scope /), follows a notification
// click the worker could not navigate itself, and brings the offline page back to life when
// the connection returns.
(function () {
  "use strict";
  function sitePath(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" &&
      url.indexOf("\\") === -1;
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {
      /* no worker (private mode, old browser): the site still works, just not offline */
    });
    navigator.serviceWorker.addEventListener("message", function (event) {
      var data = event.data || {};
      if (data.type === "cc:navigate" && sitePath(data.url)) {
        window.location.assign(data.url);
      }
    });
    navigator.serviceWorker.startMessages();
  }

  // The offline page (shown by the worker at the address the person asked for): open that
  // address again as soon as the server answers. The `online` event says a network is back,
  // not that it reaches us (a router on backup power, a tower without), so ask first, and
  // keep asking now and then.
  var offline = document.querySelector("[data-offline-page]");
  if (offline) {
    var retry = document.querySelector("[data-offline-retry]");
    if (retry) { retry.setAttribute("href", window.location.pathname + window.location.search); }
    var wait = 2000;
    var timer = null;
    var probe = function () {
      clearTimeout(timer);
      fetch("/healthz", { cache: "no-store", credentials: "omit" }).then(function (response) {
        if (!response.ok) { throw new Error("not yet"); }
        var status = document.querySelector("[data-offline-status]");
        if (status) { status.textContent = "You're back online. Opening the page…"; }
        window.location.reload();
      }).catch(function () {
        timer = setTimeout(probe, wait);
        wait = Math.min(wait * 2, 30000);
      });
    };
    window.addEventListener("online", function () { wait = 2000; probe(); });
    // A network that is up but not reaching us shows no `online` event: ask anyway. This
    // reloads only once the server has answered, so it never loops on the offline page.
    if (navigator.onLine) { probe(); } else { timer = setTimeout(probe, 30000); }
  }
})();
