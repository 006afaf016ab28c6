import createClient, { type Middleware } from "openapi-fetch";
import { ApiError, errorMessage } from "./errors";
import type { components, paths } from "./schema";

export { ApiError, errorMessage };

/** Component schemas of the gateway's OpenAPI document (`docs/openapi.json`). */
export type Schemas = components["schemas"];

/** The API's error body: `{ success: false, error, code }`. */
export type ApiErrorBody = Schemas["ErrorBody"];

const TOKEN_KEY = "console.session";

/**
 * The session token lives in `sessionStorage` (this tab, until it closes), never in a URL or
 * a cookie the API would have to trust.
 */
export const tokenStore = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Called when the API answers `unauthenticated` (expired or revoked session). */
let onUnauthenticated: () => void = () => {};

/** Registers what to do when the session ends (the app returns to sign-in). */
export function setUnauthenticatedHandler(handler: () => void) {
  onUnauthenticated = handler;
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = tokenStore.get();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401 && tokenStore.get()) {
      tokenStore.clear();
      onUnauthenticated();
    }
    return response;
  },
};

/** The typed client of the public API, on this origin. */
export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(auth);

function isErrorBody(value: unknown): value is ApiErrorBody {
  return (
    typeof value === "object" &&
    value !== null &&
    "error" in value &&
    typeof value.error === "string" &&
    "code" in value &&
    typeof value.code === "string"
  );
}

/**
 * The data of an openapi-fetch result, or an [`ApiError`] with the API's own message and code
 * (a network failure or an unexpected body becomes `network_error`).
 */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  // A 204 (No Content) has no data and is a success.
  if (result.response.ok && (result.data !== undefined || result.response.status === 204))
    return result.data as T;
  const body = result.error;
  if (isErrorBody(body)) throw new ApiError(body.error, body.code, result.response.status, body);
  throw new ApiError(
    `The server answered ${result.response.status}.`,
    "network_error",
    result.response.status,
    body,
  );
}
