// The dashboard's side of the HTTP API: JSON reads, writes as the signed-in
// person (session cookie and CSRF token) or else with the admin token (asked
// once, kept in sessionStorage), and server-sent event streams.
import { sessionUser } from "./session.js";

const TOKEN_KEY = "hodei.adminToken";

export async function getJson(url) {
  const res = await fetch(url, { headers: { accept: "application/json" } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return body;
}

function askToken(message) {
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  document.getElementById("token-error").textContent = message ?? "";
  input.value = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" && input.value ? input.value : null), { once: true });
    dialog.showModal();
    input.focus();
  });
}

/** POST with the admin token; asks for it when missing or refused. Returns the JSON body, or null if the user gave up. */
export async function postAction(url) {
  const signedIn = sessionUser();
  if (signedIn) {
    const res = await fetch(url, { method: "POST", headers: { "x-hodei-csrf": signedIn.csrfToken } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
    return body;
  }
  let token = sessionStorage.getItem(TOKEN_KEY);
  let message = null;
  for (let tries = 0; tries < 3; tries++) {
    if (!token) {
      token = await askToken(message);
      if (!token) return null;
    }
    const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      token = null;
      message = body.error ?? "The token was refused.";
      continue;
    }
    if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
    sessionStorage.setItem(TOKEN_KEY, token);
    return body;
  }
  return null;
}

/** An EventSource with JSON data; `handlers` maps event names to functions. Returns a closer. */
export function stream(url, handlers) {
  const source = new EventSource(url);
  const live = document.getElementById("live");
  source.addEventListener("open", () => live?.classList.add("on"));
  source.addEventListener("error", () => live?.classList.remove("on"));
  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  }
  return () => source.close();
}
