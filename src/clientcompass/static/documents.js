// Quotes and invoices: add and remove lines in the editor without a round trip, show the
// new-customer fields only when no customer is picked, and confirm destructive buttons.
// Without JavaScript the same buttons post the form and the server does the same.
(function () {
  "use strict";
  function lines() {
    return document.querySelector("[data-lines]");
  }
  function renumber() {
    var box = lines();
    if (!box) {
      return;
    }
    box.querySelectorAll("[data-line]").forEach(function (row, index) {
      row.querySelectorAll("[name]").forEach(function (field) {
        var name = field.getAttribute("name");
        if (name.indexOf("lines.") === 0) {
          field.setAttribute("name", name.replace(/^lines\.[^.]+\./, "lines." + index + "."));
        }
      });
      var remove = row.querySelector("[data-remove-line]");
      if (remove) {
        remove.setAttribute("value", "remove_line:" + index);
      }
      var number = row.querySelector("[data-line-number]");
      if (number) {
        number.textContent = String(index + 1);
      }
    });
    document.body.dispatchEvent(new Event("lines-changed"));
  }
  function addLine() {
    var template = document.getElementById("doc-line-template");
    var box = lines();
    if (!template || !box) {
      return;
    }
    box.appendChild(template.content.cloneNode(true));
    renumber();
    var rows = box.querySelectorAll("[data-line]");
    var field = rows[rows.length - 1].querySelector("textarea");
    if (field) {
      field.focus();
    }
  }
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) {
      return;
    }
    if (target.closest("[data-add-line]")) {
      event.preventDefault();
      addLine();
      return;
    }
    var remove = target.closest("[data-remove-line]");
    if (remove && lines()) {
      event.preventDefault();
      remove.closest("[data-line]").remove();
      if (!lines().querySelector("[data-line]")) {
        addLine();
      }
      renumber();
    }
  });
  // app.js is about to restore a kept draft (the session ended mid-quote): give it as many
  // line rows as the draft has lines.
  document.addEventListener("cc:draft-restore", function (event) {
    var box = lines();
    var template = document.getElementById("doc-line-template");
    if (!box || !template || !(event.target instanceof Element) || !event.target.contains(box)) {
      return;
    }
    var wanted = 0;
    (event.detail.names || []).forEach(function (name) {
      var match = /^lines\.(\d+)\./.exec(name);
      if (match) {
        wanted = Math.max(wanted, Number(match[1]) + 1);
      }
    });
    if (!wanted) {
      return;
    }
    var rows = box.querySelectorAll("[data-line]");
    for (var extra = rows.length - 1; extra >= wanted; extra -= 1) {
      rows[extra].remove();
    }
    while (box.querySelectorAll("[data-line]").length < wanted) {
      box.appendChild(template.content.cloneNode(true));
    }
    renumber();
  });
  function toggleNewContact() {
    var select = document.querySelector('select[name="contact_id"]');
    var fields = document.querySelector("[data-new-contact]");
    if (select && fields) {
      fields.hidden = select.value !== "";
    }
  }
  document.addEventListener("change", function (event) {
    if (event.target instanceof HTMLSelectElement && event.target.name === "contact_id") {
      toggleNewContact();
    }
  });
  toggleNewContact();
})();
