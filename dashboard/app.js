// The dashboard's router: `/` (runs), `/runs/:id`, `/runs/:id/stages/:stage`, `/tokens`.
// Links are real URLs (the forges link to stage pages); clicks navigate with
// the History API so live streams are opened and closed per page.
import { renderRun } from "./run-page.js";
import { renderRuns } from "./runs-list.js";
import { loadSession } from "./session.js";
import { renderTokens } from "./tokens-page.js";

const main = document.getElementById("main");
let teardown = () => {};

export function navigate(url, replace = false) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  route();
}

function route() {
  teardown();
  teardown = () => {};
  const path = location.pathname;
  const stage = /^\/runs\/([^/]+)\/stages\/([^/]+)\/?$/.exec(path);
  const run = /^\/runs\/([^/]+)\/?$/.exec(path);
  main.replaceChildren();
  if (stage) teardown = renderRun(main, decodeURIComponent(stage[1]), decodeURIComponent(stage[2]));
  else if (run) teardown = renderRun(main, decodeURIComponent(run[1]), null);
  else if (/^\/tokens\/?$/.test(path)) teardown = renderTokens(main);
  else teardown = renderRuns(main, new URLSearchParams(location.search).get("repo") ?? "");
}

document.addEventListener("click", (e) => {
  const a = e.target instanceof Element ? e.target.closest("a[data-nav]") : null;
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute("href"));
});
window.addEventListener("popstate", route);
// The page needs to know who is signed in before its first reads and writes.
loadSession().finally(route);
