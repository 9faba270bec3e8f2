// Who is signed in (GET /api/me), shown in the top bar: the person's login
// and Sign out, or Sign in links for the forges the server offers. Writes
// by a signed-in person carry the session's CSRF token.
import { h } from "./format.js";

let current = null; // { user, csrfToken } once signed in

export function sessionUser() {
  return current;
}

export async function loadSession() {
  const area = document.getElementById("account");
  const res = await fetch("/api/me", { headers: { accept: "application/json" } }).catch(() => null);
  // 404: this server has no sign-in (reads are open, writes take the admin token).
  if (!res || res.status === 404) return;
  const body = await res.json().catch(() => ({}));
  if (res.ok && body.kind === "user") {
    current = { user: body.user, csrfToken: body.csrfToken };
    const out = h("button", { class: "ghost", id: "sign-out" }, "Sign out");
    out.addEventListener("click", async () => {
      await fetch("/auth/logout", { method: "POST", headers: { "x-hodei-csrf": current?.csrfToken ?? "" } });
      location.assign("/");
    });
    area?.replaceChildren(h("a", { href: "/tokens", "data-nav": true, id: "tokens-link", title: "Your personal API tokens" }, "Tokens"), h("span", { id: "signed-in-as" }, body.user.login), out);
    return;
  }
  if (res.status === 401 && Array.isArray(body.signIn)) {
    const back = encodeURIComponent(location.pathname + location.search);
    const names = { "/auth/github/login": "GitHub", "/auth/gitea/login": "Gitea" };
    area?.replaceChildren(...body.signIn.map((url) => h("a", { href: `${url}?return_to=${back}`, class: "sign-in" }, `Sign in with ${names[url] ?? url}`)));
  }
}
