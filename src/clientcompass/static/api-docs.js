// Starts Swagger UI from a file, so /api/docs keeps the same strict CSP as every page.
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: node.getAttribute("data-spec-url"), dom_id: "#swagger-ui" });
});
