// Client Compass page behaviour. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // htmx requests carry the CSRF token as a header.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });
  // Read-only "copy me" fields select their whole content on focus.
  document.addEventListener("focusin", function (event) {
    var target = event.target;
    if (target instanceof HTMLInputElement && target.classList.contains("copy")) {
      target.select();
    }
  });
  // "Copy" buttons next to read-only fields: <button type="button" data-copy="input-id">.
  function copyFrom(input) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(input.value);
    }
    input.focus();
    input.select();
    return document.execCommand("copy") ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
    if (!button) {
      return;
    }
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!(input instanceof HTMLInputElement)) {
      return;
    }
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    copyFrom(input).then(
      function () { button.textContent = "Copied"; },
      function () { input.focus(); input.select(); button.textContent = "Select and copy"; }
    ).then(function () {
      setTimeout(function () { button.textContent = label; }, 2000);
    });
  });
  // Toasts fade away by themselves.
  document.addEventListener("htmx:afterSwap", function () {
    document.querySelectorAll(".toast").forEach(function (toast) {
      setTimeout(function () { toast.remove(); }, 6000);
    });
  });
})();
