// Swagger UI on one element. Its stylesheet is linked on first use (a hashed file of its
// own, web/build.mjs); "Try it out" sends the session's cookies and, on writes, the CSRF
// header, like every call of the app.
import SwaggerUI from "swagger-ui-dist/swagger-ui-es-bundle.js";

function stylesheet(): Promise<void> {
  if (document.querySelector(`link[href="${__DOCS_CSS__}"]`)) return Promise.resolve();
  return new Promise((resolve) => {
    const el = document.createElement("link");
    el.rel = "stylesheet";
    el.href = __DOCS_CSS__;
    el.addEventListener("load", () => resolve());
    el.addEventListener("error", () => resolve());
    document.head.append(el);
  });
}

function csrf(): string | null {
  const match = document.cookie.split("; ").find((c) => c.startsWith("csrf_token="));
  return match ? decodeURIComponent(match.slice("csrf_token=".length)) : null;
}

export async function mountSwagger(node: HTMLElement, url: string): Promise<void> {
  await stylesheet();
  await new Promise<void>((resolve) => {
    SwaggerUI({
      domNode: node,
      url,
      deepLinking: false,
      // No badge from the public validator: the page talks to its own origin only.
      validatorUrl: null,
      docExpansion: "list",
      defaultModelsExpandDepth: 0,
      displayRequestDuration: true,
      requestInterceptor(request) {
        const method = (request.method ?? "GET").toUpperCase();
        const token = csrf();
        if (token && !["GET", "HEAD", "OPTIONS"].includes(method)) {
          request.headers["X-CSRF-Token"] = token;
        }
        return request;
      },
      onComplete: () => resolve(),
    });
  });
}
