// django-textlink's API documentation page: Swagger UI (drf-spectacular-sidecar's files,
// served by the site) over the schema named by #swagger-ui's data-schema-url. Read only:
// "Try it out" would send real verification codes.
(function () {
  "use strict";
  var element = document.getElementById("swagger-ui");
  if (!element || typeof window.SwaggerUIBundle !== "function") { return; }
  window.textlinkApiDocs = window.SwaggerUIBundle({
    url: element.getAttribute("data-schema-url"),
    domNode: element,
    deepLinking: true,
    supportedSubmitMethods: [],
  });
})();
