// Client Compass page behaviour. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // Irreversible actions ask first, saying what can't be undone: <form data-confirm="…">.
  // Listening in the capture phase, a "no" stops the submit before anything else sees it.
  document.addEventListener("submit", function (event) {
    var form = event.target instanceof HTMLFormElement ? event.target : null;
    var question = form ? form.getAttribute("data-confirm") : null;
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
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
  // The error summary at the top of a form page: each link names its field by the field's
  // own label and takes the person to it, wherever the form put it (below the fold too).
  function fieldFor(name) {
    var escaped = window.CSS && CSS.escape ? CSS.escape(name) : name;
    return document.getElementById("f-" + name) ||
      document.querySelector('[name="' + escaped + '"]:not([type=hidden])') ||
      document.querySelector('[name^="' + escaped + '."]:not([type=hidden])') ||
      document.querySelector('[name="' + escaped + '"]');
  }
  function labelOf(field) {
    var label = field.closest("label");
    var span = label ? label.querySelector("span") : null;
    var text = span && span.firstChild ? span.firstChild.textContent : "";
    return (text || "").trim();
  }
  function wireErrorSummary() {
    document.querySelectorAll("[data-error-field]").forEach(function (link) {
      var field = fieldFor(link.getAttribute("data-error-field"));
      var label = field ? labelOf(field) : "";
      var slot = link.querySelector("[data-error-label]");
      if (label && slot) { slot.textContent = label; }
    });
  }
  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element ? event.target.closest("[data-error-field]") : null;
    if (!link) { return; }
    var field = fieldFor(link.getAttribute("data-error-field"));
    if (!field) { return; }
    event.preventDefault();
    var target = field.type === "hidden" ? (field.closest(".field") || field.parentElement) : field;
    target.scrollIntoView({ block: "center" });
    if (target === field) { field.focus({ preventScroll: true }); }
  });

  // Drafts. What is typed into a composer or a document editor (form[data-draft]) is kept in
  // localStorage under the path the form posts to, so a session that ends mid-sentence loses
  // nothing: the POST is answered "you were signed out", and after signing in the same page
  // comes back with the text restored. A submit that lands anywhere but its own address or
  // the sign-in page succeeded (the app answers a saved form with a redirect and re-shows a
  // refused one at its own address), and only then is the draft dropped.
  var DRAFT = "cc:draft:";
  var SUBMITTED = "cc:draft-submitted";
  var DRAFT_DAYS = 7;
  function actionPath(form) {
    return new URL(form.getAttribute("action") || window.location.pathname, window.location.href).pathname;
  }
  function draftFields(form) {
    var fields = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.name === "csrf_token") { return; }
      if (/^(hidden|password|file|submit|button|reset)$/.test(el.type) || el.tagName === "BUTTON") { return; }
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) { return; }
      fields.push([el.name, el.value]);
    });
    return fields;
  }
  function saveDraft(form) {
    var fields = draftFields(form);
    var key = DRAFT + actionPath(form);
    try {
      if (fields.some(function (pair) { return pair[1].trim() !== ""; })) {
        localStorage.setItem(key, JSON.stringify({ at: Date.now(), fields: fields }));
      } else {
        localStorage.removeItem(key);
      }
    } catch (e) { /* storage full or blocked: the draft is a convenience */ }
  }
  function readDraft(form) {
    try {
      var draft = JSON.parse(localStorage.getItem(DRAFT + actionPath(form)) || "null");
      if (draft && Date.now() - draft.at < DRAFT_DAYS * 86400000 && Array.isArray(draft.fields)) {
        return draft;
      }
    } catch (e) { /* unreadable: start afresh */ }
    return null;
  }
  function dropDraft(path) {
    try { localStorage.removeItem(DRAFT + path); } catch (e) { /* nothing to drop */ }
  }
  function draftNotice(form) {
    var note = document.createElement("p");
    note.className = "notice draft-notice";
    note.setAttribute("role", "status");
    note.setAttribute("data-testid", "draft-restored");
    note.appendChild(document.createTextNode("What you typed before is back. "));
    var discard = document.createElement("button");
    discard.type = "button";
    discard.className = "link";
    discard.textContent = "Discard it";
    discard.addEventListener("click", function () {
      dropDraft(actionPath(form));
      window.location.reload();
    });
    note.appendChild(discard);
    form.insertBefore(note, form.firstChild);
  }
  function restoreDraft(form) {
    if (form.hasAttribute("data-draft-wired")) { return; }
    form.setAttribute("data-draft-wired", "yes");
    var draft = readDraft(form);
    if (!draft) { return; }
    var current = JSON.stringify(draftFields(form));
    if (current === JSON.stringify(draft.fields)) { return; }
    // Let a form with rows added in the browser (a quote's lines) make room first.
    form.dispatchEvent(new CustomEvent("cc:draft-restore", {
      bubbles: true,
      detail: { names: draft.fields.map(function (pair) { return pair[0]; }) }
    }));
    var used = {};
    draft.fields.forEach(function (pair) {
      var matches = form.querySelectorAll('[name="' + (window.CSS && CSS.escape ? CSS.escape(pair[0]) : pair[0]) + '"]');
      var index = used[pair[0]] || 0;
      used[pair[0]] = index + 1;
      var el = matches[index];
      if (!el || el.type === "hidden" || el.type === "file") { return; }
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = el.value === pair[1];
      } else if (el.value !== pair[1]) {
        el.value = pair[1];
      } else {
        return;
      }
      el.dispatchEvent(new Event("change", { bubbles: true }));
    });
    draftNotice(form);
  }
  function wireDrafts() {
    var submitted = null;
    try {
      submitted = JSON.parse(sessionStorage.getItem(SUBMITTED) || "null");
      sessionStorage.removeItem(SUBMITTED);
    } catch (e) { submitted = null; }
    var here = window.location.pathname;
    if (submitted && submitted.path && here !== submitted.path && here !== "/login") {
      dropDraft(submitted.path);
    }
    document.querySelectorAll("form[data-draft]").forEach(restoreDraft);
  }
  function draftFormOf(target) {
    return target instanceof Element ? target.closest("form[data-draft]") : null;
  }
  document.addEventListener("input", function (event) {
    var form = draftFormOf(event.target);
    if (form) { saveDraft(form); }
  });
  document.addEventListener("change", function (event) {
    var form = draftFormOf(event.target);
    if (form) { saveDraft(form); }
  });
  document.addEventListener("submit", function (event) {
    var target = event.target instanceof HTMLFormElement ? event.target : null;
    // Logging out on this device on purpose: leave nothing typed behind on it.
    if (target && /^\/logout/.test(actionPath(target))) {
      try {
        Object.keys(localStorage).forEach(function (key) {
          if (key.indexOf(DRAFT) === 0) { localStorage.removeItem(key); }
        });
      } catch (e) { /* storage blocked: nothing was kept either */ }
      return;
    }
    var form = target && target.hasAttribute("data-draft") ? target : null;
    if (!form) { return; }
    saveDraft(form);
    try {
      sessionStorage.setItem(SUBMITTED, JSON.stringify({ path: actionPath(form) }));
    } catch (e) { /* the draft then stays until the next save */ }
  });
  // A draft form sent by htmx: a 2xx answer means it was taken.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail ? event.detail.elt : null;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-draft") && event.detail.successful) {
      dropDraft(actionPath(form));
    }
  });
  // Composers re-rendered by htmx (the 24-hour window opened or closed) get their draft back.
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("form[data-draft]").forEach(restoreDraft);
  });
  function onReady() {
    wireErrorSummary();
    wireDrafts();
  }
  // After every deferred script (documents.js listens for cc:draft-restore) has run.
  if (document.readyState === "complete") {
    onReady();
  } else {
    document.addEventListener("DOMContentLoaded", onReady);
  }

  // Toasts fade away by themselves.
  document.addEventListener("htmx:afterSwap", function () {
    document.querySelectorAll(".toast").forEach(function (toast) {
      setTimeout(function () { toast.remove(); }, 6000);
    });
  });
})();
