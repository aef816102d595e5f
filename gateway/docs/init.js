// Starts Swagger UI on the gateway's spec. It is a file of its own, not an
// inline script, so that the page's Content-Security-Policy can allow only
// scripts the gateway serves. URLs are relative to the page (/docs), so the
// page also works behind a proxy that adds a path prefix.
"use strict";

// A token typed into Authorize without its scheme is sent as a bearer
// token: an OpenAPI 2 spec can only describe the header as an API key,
// whose value is sent as typed.
function bearer(req) {
  const auth = req.headers.Authorization;
  if (auth && !/^\S+\s/.test(auth)) {
    req.headers.Authorization = "Bearer " + auth;
  }
  return req;
}

window.ui = SwaggerUIBundle({
  url: new URL("openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  deepLinking: true,
  filter: true,
  // No spec is sent to an online validator.
  validatorUrl: null,
  requestInterceptor: bearer,
});
