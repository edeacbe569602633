// The sandbox phone: keeps the chat scrolled like a phone does, and polls cheaply.
// No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";
  function thread() {
    return document.getElementById("phone-thread");
  }
  function version() {
    var chat = thread() && thread().querySelector("[data-version]");
    return chat ? chat.getAttribute("data-version") : "";
  }
  function nearBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }
  function toBottom() {
    var el = thread();
    if (el) {
      el.scrollTop = el.scrollHeight;
    }
  }
  var stick = true;
  function insidePhone(elt) {
    return elt instanceof Element && elt.closest(".phone") !== null;
  }

  // Polling sends the version it shows; the server answers 204 (no swap) when unchanged,
  // so a button is never replaced under a finger and the scroll position stays put.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt === thread()) {
      event.detail.parameters.v = version();
    }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target === thread()) {
      stick = nearBottom(target) || event.detail.requestConfig.elt !== target;
    }
    // The phone's own errors (422 bad input, 502 sandbox down) come with the chat to show.
    var status = event.detail.xhr.status;
    if (insidePhone(event.detail.requestConfig.elt) && (status === 422 || status === 502)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target === thread() && stick) {
      toBottom();
    }
  });
  // A sent message clears the composer, as on a phone.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form instanceof HTMLFormElement && form.classList.contains("phone-composer")) {
      if (event.detail.xhr && event.detail.xhr.status < 300) {
        form.reset();
        showFileName(form);
        var input = form.querySelector('input[name="body"]');
        if (input) {
          input.focus();
        }
      }
    }
  });
  function showFileName(form) {
    var file = form.querySelector('input[type="file"]');
    var label = form.querySelector(".phone-file-name");
    if (!file || !label) {
      return;
    }
    var name = file.files && file.files.length ? file.files[0].name : "";
    label.textContent = name ? "📷 " + name : "";
    label.hidden = !name;
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLInputElement && target.type === "file" && target.form &&
        target.form.classList.contains("phone-composer")) {
      showFileName(target.form);
    }
  });
  document.addEventListener("DOMContentLoaded", toBottom);
  if (document.readyState !== "loading") {
    toBottom();
  }
})();
