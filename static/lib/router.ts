import { signal } from "@preact/signals";

/** Client-side routing with the History API (the server answers every page path with index.html). */
export const location = signal({ path: window.location.pathname, search: window.location.search });

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = new URL(to, window.location.origin);
  if (url.pathname + url.search !== window.location.pathname + window.location.search) {
    if (options.replace) history.replaceState(null, "", url.pathname + url.search);
    else history.pushState(null, "", url.pathname + url.search);
  }
  location.value = { path: url.pathname, search: url.search };
  if (!options.replace) window.scrollTo(0, 0);
}

window.addEventListener("popstate", () => {
  location.value = { path: window.location.pathname, search: window.location.search };
});

/** Lets plain `<a href="/x">` links route on the client (left click without modifier keys). */
export function interceptLinks(root: HTMLElement): void {
  root.addEventListener("click", (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.("a");
    if (!a || a.target || a.hasAttribute("download")) return;
    const href = a.getAttribute("href");
    if (!href || !href.startsWith("/") || href.startsWith("//") || href.startsWith("/api/")) return;
    e.preventDefault();
    navigate(href);
  });
}

export function searchParam(name: string): string | null {
  return new URLSearchParams(location.value.search).get(name);
}
