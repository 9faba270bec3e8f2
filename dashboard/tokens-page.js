// Personal API tokens of the signed-in person (/tokens): create one (shown
// once, to copy), see when each was last used, revoke. They act as their
// person from the CLI (HODEI_TOKEN) and scripts, with the same permissions.
import { getJson } from "./api.js";
import { ago, h } from "./format.js";
import { sessionUser } from "./session.js";

const LIFETIMES = [
  ["30 days", 30 * 86_400],
  ["90 days", 90 * 86_400],
  ["1 year", 365 * 86_400],
  ["No expiry", null],
];

async function send(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: { "x-hodei-csrf": sessionUser()?.csrfToken ?? "", ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(answer.error ?? `${res.status} ${res.statusText}`);
  return answer;
}

export function renderTokens(main) {
  if (!sessionUser()) {
    main.replaceChildren(h("section", { class: "panel" }, h("h1", {}, "Personal tokens"), h("p", { class: "muted", id: "tokens-sign-in" }, "Sign in to create and revoke your personal API tokens.")));
    return () => {};
  }
  const notice = h("p", { class: "error", id: "tokens-error" });
  const created = h("div", { id: "token-created" });
  const tbody = h("tbody");
  const description = h("input", { id: "token-description", placeholder: "What it is for (e.g. laptop CLI)", maxlength: "200", required: true });
  const lifetime = h("select", { id: "token-lifetime" }, ...LIFETIMES.map(([label], i) => h("option", { value: String(i) }, label)));
  const form = h("form", { class: "token-form", id: "token-form" }, description, lifetime, h("button", { id: "token-create" }, "Create token"));

  const load = async () => {
    const { tokens } = await getJson("/api/tokens");
    tbody.replaceChildren(
      ...tokens.map((t) => {
        const state = t.revokedAt ? "revoked" : t.expiresAt && Date.parse(t.expiresAt) <= Date.now() ? "expired" : "active";
        return h(
          "tr",
          { "data-token": t.id, "data-state": state },
          h("td", {}, t.description || h("span", { class: "muted" }, "(no description)")),
          h("td", { class: "muted", title: t.createdAt }, ago(t.createdAt)),
          h("td", { class: "muted" }, t.lastUsedAt ? ago(t.lastUsedAt) : "never"),
          h("td", { class: "muted" }, t.expiresAt ? new Date(t.expiresAt).toLocaleDateString() : "never"),
          h("td", {}, state === "active" ? h("button", { class: "small danger", onclick: () => revoke(t.id) }, "Revoke") : h("span", { class: "muted" }, state)),
        );
      }),
    );
  };
  const revoke = async (id) => {
    notice.textContent = "";
    try {
      await send("DELETE", `/api/tokens/${encodeURIComponent(id)}`);
      await load();
    } catch (e) {
      notice.textContent = e.message;
    }
  };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    notice.textContent = "";
    const seconds = LIFETIMES[Number(lifetime.value)]?.[1] ?? null;
    try {
      const t = await send("POST", "/api/tokens", { description: description.value.trim(), ...(seconds ? { expiresInSeconds: seconds } : {}) });
      const value = h("code", { id: "token-value" }, t.token);
      const copy = h("button", { class: "small ghost", onclick: () => navigator.clipboard?.writeText(t.token) }, "Copy");
      created.replaceChildren(h("div", { class: "toast-inline" }, h("p", {}, "Your new token. Copy it now: it is not shown again."), value, copy));
      description.value = "";
      await load();
    } catch (err) {
      notice.textContent = err.message;
    }
  });

  main.replaceChildren(
    h(
      "section",
      { class: "panel" },
      h("h1", {}, "Personal tokens"),
      h("p", { class: "muted" }, "A token acts as you, with your permissions, for the CLI (HODEI_TOKEN) and scripts (Authorization: Bearer)."),
      form,
      notice,
      created,
      h("table", { class: "runs tokens" }, h("thead", {}, h("tr", {}, h("th", {}, "Description"), h("th", {}, "Created"), h("th", {}, "Last used"), h("th", {}, "Expires"), h("th", {}, ""))), tbody),
    ),
  );
  load().catch((e) => (notice.textContent = e.message));
  return () => {};
}
