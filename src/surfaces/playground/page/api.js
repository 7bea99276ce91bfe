// Calls to the service's API: the API key (this tab only), a 401 answered by asking for a key, NDJSON streams.
import { readNdjson } from "./ndjson.js";

const KEY_STORAGE = "lmstudio-service.api-key";

/** A failed call: the HTTP status (0 when the service was not reached) and the parsed body. */
export class ApiError extends Error {
  /** @param {number} status @param {any} body */
  constructor(status, body) {
    super(`HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

/** @type {(reason: "needed" | "rejected") => Promise<string | null>} */
let askForKey = async () => null;
/** @type {Promise<string | null> | null} */
let asking = null;

/** The page decides how to ask (a dialog); concurrent 401s share one question. */
export function onKeyNeeded(ask) {
  askForKey = ask;
}

export const storedKey = () => sessionStorage.getItem(KEY_STORAGE);

/** @param {string | null} key */
export function storeKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

async function readBody(res) {
  const text = await res.text().catch(() => "");
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * fetch() with the key; a 401 asks for a key and tries again, until the user gives up.
 * @param {string} path
 * @param {{ method?: string, body?: unknown, signal?: AbortSignal }} [opts]
 * @returns {Promise<Response>} a 2xx response; anything else throws an ApiError
 */
export async function call(path, { method = "GET", body, signal } = {}) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  for (;;) {
    /** @type {Record<string, string>} */
    const headers = { accept: "application/json, application/x-ndjson" };
    if (payload !== undefined) headers["content-type"] = "application/json";
    const key = storedKey();
    if (key) headers.authorization = `Bearer ${key}`;
    let res;
    try {
      res = await fetch(path, { method, headers, body: payload, signal, cache: "no-store" });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiError(0, null);
    }
    if (res.status === 401) {
      const failed = await readBody(res);
      asking ??= askForKey(key ? "rejected" : "needed").finally(() => {
        asking = null;
      });
      const given = await asking;
      if (!given) throw new ApiError(401, failed);
      storeKey(given);
      continue;
    }
    if (!res.ok) throw new ApiError(res.status, await readBody(res));
    return res;
  }
}

/** @param {string} path */
export async function getJson(path) {
  return (await call(path)).json();
}

/** @param {string} path @param {unknown} body */
export async function postJson(path, body) {
  return (await call(path, { method: "POST", body })).json();
}

/**
 * POSTs and reads the NDJSON answer line by line. Aborting the signal closes the connection,
 * which is how the service learns to cancel the load or stop the generation.
 * @param {string} path @param {unknown} body @param {AbortSignal} signal @param {(line: any) => void} onLine
 */
export async function postStream(path, body, signal, onLine) {
  const res = await call(path, { method: "POST", body, signal });
  if (!res.body) return;
  await readNdjson(res.body, onLine);
}
