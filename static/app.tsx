import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, errorMessage, onSignedOut } from "./lib/api.ts";
import { liveStatus, reconnectNow } from "./lib/live.ts";
import { location, navigate } from "./lib/router.ts";
import { expired, signedIn, signOut } from "./lib/session.ts";
import { currentUser, isAdmin, setTheme, themeChoice, toasts, type User } from "./lib/state.ts";
import { Loading } from "./components/ui.tsx";
import { LoginPage, SetupPage } from "./pages/auth.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { RequestsPage } from "./pages/requests.tsx";
import { RequestDetailPage } from "./pages/request-detail.tsx";
import { ProvidersPage } from "./pages/providers.tsx";
import { KeysPage } from "./pages/keys.tsx";
import { UsersPage } from "./pages/users.tsx";
import { AuditPage } from "./pages/audit.tsx";
import { PricingPage } from "./pages/pricing.tsx";
import { SystemPage } from "./pages/system.tsx";

type NavItem = { href: string; label: string; admin?: boolean; icon: string };
const NAV: NavItem[] = [
  { href: "/", label: "Overview", icon: "M3 13h4v8H3zM10 8h4v13h-4zM17 3h4v18h-4z" },
  { href: "/requests", label: "Live requests", icon: "M3 5h18v2H3zM3 11h18v2H3zM3 17h12v2H3z" },
  { href: "/providers", label: "Providers", icon: "M4 4h16v6H4zM4 14h16v6H4zM7 6.5h2v1H7zM7 16.5h2v1H7z" },
  { href: "/keys", label: "Client keys", icon: "M8 14a4 4 0 1 1 3.9-5H22v3h-2v3h-3v-3h-5.1A4 4 0 0 1 8 14zm0-2.5a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3z" },
  { href: "/pricing", label: "Models & pricing", icon: "M12 2l9 4v2H3V6zM5 10h2v8H5zM11 10h2v8h-2zM17 10h2v8h-2zM3 20h18v2H3z" },
  { href: "/system", label: "System", icon: "M4 4h16v12H4zM9 18h6v2H9zM6 6v8h12V6z" },
  { href: "/users", label: "Users", admin: true, icon: "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 9c0-3.3 3.1-6 7-6s7 2.7 7 6v1H2zm15.5-9a3 3 0 1 0 0-6M19 14c2 .7 3 2.3 3 4.5V21h-3" },
  { href: "/audit", label: "Audit log", admin: true, icon: "M6 2h9l5 5v15H6zM14 3v5h5M9 12h8M9 16h8M9 8h3" },
];

const TITLES: Record<string, string> = Object.fromEntries(NAV.map((n) => [n.href, n.label]));

function pageFor(path: string): { title: string; node: ComponentChildren } {
  const detail = /^\/requests\/([^/]+)$/.exec(path);
  if (detail) return { title: "Request", node: <RequestDetailPage id={decodeURIComponent(detail[1]!)} /> };
  switch (path) {
    case "/":
      return { title: TITLES["/"]!, node: <OverviewPage /> };
    case "/requests":
      return { title: TITLES[path]!, node: <RequestsPage /> };
    case "/providers":
      return { title: TITLES[path]!, node: <ProvidersPage /> };
    case "/keys":
      return { title: TITLES[path]!, node: <KeysPage /> };
    case "/pricing":
      return { title: TITLES[path]!, node: <PricingPage /> };
    case "/system":
      return { title: TITLES[path]!, node: <SystemPage /> };
    case "/users":
      return { title: TITLES[path]!, node: isAdmin.value ? <UsersPage /> : <AdminOnly /> };
    case "/audit":
      return { title: TITLES[path]!, node: isAdmin.value ? <AuditPage /> : <AdminOnly /> };
    default:
      return { title: "Not found", node: <NotFound /> };
  }
}

function AdminOnly() {
  return (
    <div class="card narrow-card">
      <h1>Admins only</h1>
      <p class="muted">Your account has the viewer role: it can see traffic, costs and settings, but not manage users or read the audit log.</p>
    </div>
  );
}

function NotFound() {
  return (
    <div class="card narrow-card">
      <h1>Page not found</h1>
      <p>
        <a href="/">Go to the overview</a>
      </p>
    </div>
  );
}

export function App() {
  const { path } = location.value;
  const user = currentUser.value;
  const [bootError, setBootError] = useState<string>();

  const boot = async () => {
    setBootError(undefined);
    try {
      const me = await api.get<{ user: User }>("/api/auth/me");
      signedIn(me.user);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) currentUser.value = null;
      else setBootError(errorMessage(e));
    }
  };
  useEffect(() => {
    onSignedOut(expired);
    if (location.value.path !== "/setup") void boot();
    else currentUser.value = null;
  }, []);

  useEffect(() => {
    if (path === "/login" && user) navigate(new URLSearchParams(location.value.search).get("next") || "/", { replace: true });
    if (user === null && path !== "/login" && path !== "/setup") {
      navigate(`/login${path !== "/" ? `?next=${encodeURIComponent(path + location.value.search)}` : ""}`, { replace: true });
    }
  }, [path, user]);

  if (path === "/setup") return <SetupPage />;
  if (bootError)
    return (
      <div class="auth-wrap">
        <div class="card auth-card">
          <h1>Cannot load the dashboard</h1>
          <p role="alert">{bootError}</p>
          <button type="button" class="btn primary" onClick={boot}>
            Try again
          </button>
        </div>
      </div>
    );
  if (path === "/login") return user ? <Loading /> : <LoginPage />;
  if (!user) return <Loading what="Signing in…" />;
  return <Shell user={user} path={path} />;
}

function Shell({ user, path }: { user: User; path: string }) {
  const [menuOpen, setMenuOpen] = useState(false);
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  const { title, node } = pageFor(path);

  useEffect(() => {
    document.title = `${title} · llm-proxy`;
    setMenuOpen(false);
    // Move focus to the new page (not on first load) so keyboard and screen-reader users land there.
    if (first.current) first.current = false;
    else main.current?.focus({ preventScroll: true });
  }, [path]);

  // Escape closes the phone menu.
  useEffect(() => {
    if (!menuOpen) return;
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setMenuOpen(false);
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [menuOpen]);

  const active = (href: string) => (href === "/" ? path === "/" : path === href || path.startsWith(href + "/"));
  return (
    <div class={`shell ${menuOpen ? "menu-open" : ""}`}>
      <a class="skip-link" href="#main" onClick={(e) => (e.preventDefault(), main.current?.focus())}>
        Skip to content
      </a>
      <header class="topbar">
        <button
          type="button"
          class="icon-btn menu-btn"
          aria-label="Menu"
          aria-expanded={menuOpen}
          aria-controls="sidenav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
            <path d="M3 6h18v2H3zM3 11h18v2H3zM3 16h18v2H3z" fill="currentColor" />
          </svg>
        </button>
        <a href="/" class="brand">
          <Logo />
          <span>llm-proxy</span>
        </a>
        <div class="topbar-right">
          <LiveIndicator />
          <ThemeToggle />
          <div class="user-box">
            <span class="user-name" title={`Signed in as ${user.username} (${user.role})`}>
              {user.username}
              <span class={`role ${user.role}`}>{user.role}</span>
            </span>
            <button type="button" class="btn small" onClick={signOut}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      <nav id="sidenav" class="sidenav" aria-label="Main">
        <ul>
          {NAV.filter((n) => !n.admin || user.role === "admin").map((n) => (
            <li key={n.href}>
              <a href={n.href} aria-current={active(n.href) ? "page" : undefined}>
                <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                  <path d={n.icon} fill="currentColor" />
                </svg>
                {n.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {menuOpen && <div class="scrim" onClick={() => setMenuOpen(false)} />}
      <main id="main" ref={main} tabIndex={-1} key={path}>
        {node}
      </main>
      <Toasts />
    </div>
  );
}

export function Logo({ size = 24 }: { size?: number }) {
  return (
    <svg viewBox="0 0 32 32" width={size} height={size} aria-hidden="true" class="logo">
      <rect width="32" height="32" rx="7" fill="#3b5bdb" />
      <path d="M8 10h6v12H8zM18 10h6v5h-6zM18 17h6v5h-6z" fill="#fff" />
    </svg>
  );
}

function LiveIndicator() {
  const s = liveStatus.value;
  const [, tick] = useState(0);
  useEffect(() => {
    if (s.state !== "reconnecting") return;
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, [s.state]);
  if (s.state === "open")
    return (
      <span class="live ok" role="status" data-live="open" title="Live updates are connected">
        <span class="dot" /> Live
      </span>
    );
  if (s.state === "reconnecting") {
    const secs = Math.max(0, Math.ceil((s.at - Date.now()) / 1000));
    return (
      <span class="live bad" role="status" data-live="reconnecting">
        <span class="dot" /> <span class="live-text">Disconnected · retrying in {secs}s</span>
        <button type="button" class="link-btn" onClick={reconnectNow}>
          Retry now
        </button>
      </span>
    );
  }
  return (
    <span class="live warn" role="status" data-live={s.state}>
      <span class="dot" /> <span class="live-text">Connecting…</span>
    </span>
  );
}

function ThemeToggle() {
  const order = ["system", "light", "dark"] as const;
  const choice = themeChoice.value;
  const next = order[(order.indexOf(choice) + 1) % order.length]!;
  const icons = {
    system: "M12 3a9 9 0 1 0 0 18zm0 2v14a7 7 0 0 1 0-14z",
    light: "M12 7a5 5 0 1 0 0 10 5 5 0 0 0 0-10zM11 1h2v3h-2zM11 20h2v3h-2zM1 11h3v2H1zM20 11h3v2h-3zM4.2 3.8l2.1 2.1-1.4 1.4-2.1-2.1zM17.7 18.1l2.1 2.1-1.4 1.4-2.1-2.1zM3.8 19.8l2.1-2.1 1.4 1.4-2.1 2.1zM18.1 6.3l2.1-2.1 1.4 1.4-2.1 2.1z",
    dark: "M20 15.3A8 8 0 0 1 8.7 4a8 8 0 1 0 11.3 11.3z",
  };
  return (
    <button type="button" class="icon-btn" onClick={() => setTheme(next)} aria-label={`Theme: ${choice}. Switch to ${next}`} title={`Theme: ${choice} (switch to ${next})`}>
      <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
        <path d={icons[choice]} fill="currentColor" />
      </svg>
    </button>
  );
}

function Toasts() {
  return (
    <div class="toasts" aria-live="polite">
      {toasts.value.map((t) => (
        <div key={t.id} class={`toast ${t.kind}`} role={t.kind === "error" ? "alert" : "status"}>
          {t.text}
        </div>
      ))}
    </div>
  );
}
