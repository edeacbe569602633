// Contacts CSV import: the upload's progress bar, then "Checking…" while the server works.
(function () {
  "use strict";
  function parts(form) {
    return {
      bar: form.querySelector("progress"),
      label: form.querySelector("[data-progress-label]")
    };
  }
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target instanceof Element ? event.target.closest(".import-form") : null;
    if (!form || !event.detail.lengthComputable) {
      return;
    }
    var p = parts(form);
    var percent = Math.round((event.detail.loaded / event.detail.total) * 100);
    p.bar.value = percent;
    p.label.textContent = percent < 100 ? "Uploading… " + percent + "%" : "Checking every row…";
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.target instanceof Element ? event.target.closest(".import-form") : null;
    if (form) {
      var p = parts(form);
      p.bar.value = 0;
      p.label.textContent = "Uploading…";
    }
  });
})();
