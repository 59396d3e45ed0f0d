import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, errorMessage } from "../lib/api.ts";
import { location, navigate } from "../lib/router.ts";
import { signedIn } from "../lib/session.ts";
import type { User } from "../lib/state.ts";
import { ErrorBox, Field, onValue } from "../components/ui.tsx";

const MIN_PASSWORD = 12;

/** Only same-site paths may be a post-login destination (no open redirect). */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") && !next.startsWith("/setup") ? next : "/";
}

function AuthFrame({ title, sub, children }: { title: string; sub?: string; children: ComponentChildren }) {
  return (
    <div class="auth-wrap">
      <main class="card auth-card" id="main">
        <div class="auth-brand">
          <svg viewBox="0 0 32 32" width="36" height="36" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="#3b5bdb" />
            <path d="M8 10h6v12H8zM18 10h6v5h-6zM18 17h6v5h-6z" fill="#fff" />
          </svg>
          <span>llm-proxy</span>
        </div>
        <h1>{title}</h1>
        {sub && <p class="muted">{sub}</p>}
        {children}
      </main>
    </div>
  );
}

/** Counts down a Retry-After; returns the seconds left (0 = go ahead). */
function useCountdown(): [number, (s: number) => void] {
  const [until, setUntil] = useState(0);
  const [, tick] = useState(0);
  useEffect(() => {
    if (until <= Date.now()) return;
    const t = setInterval(() => {
      tick((n) => n + 1);
      if (Date.now() >= until) clearInterval(t);
    }, 500);
    return () => clearInterval(t);
  }, [until]);
  return [Math.max(0, Math.ceil((until - Date.now()) / 1000)), (s) => setUntil(Date.now() + s * 1000)];
}

export function LoginPage() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [wait, setWait] = useCountdown();

  useEffect(() => {
    document.title = "Sign in · llm-proxy";
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy || wait > 0) return;
    setBusy(true);
    setError(undefined);
    try {
      const r = await api.post<{ user: User }>("/api/auth/login", { username, password });
      setPassword("");
      signedIn(r.user);
      navigate(safeNext(new URLSearchParams(location.value.search).get("next")), { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 429) {
        setWait(err.retryAfter ?? 30);
        setError(err.message || "Too many failed attempts.");
      } else setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthFrame title="Sign in" sub="Use your dashboard account.">
      <form onSubmit={submit} class="stack">
        <Field label="Username">
          <input name="username" autocomplete="username" required value={username} onInput={onValue(setUsername)} autofocus />
        </Field>
        <Field label="Password">
          <input name="password" type="password" autocomplete="current-password" required value={password} onInput={onValue(setPassword)} />
        </Field>
        <ErrorBox error={error} />
        <button type="submit" class="btn primary block" disabled={busy || wait > 0}>
          {busy ? "Signing in…" : wait > 0 ? `Try again in ${wait} s` : "Sign in"}
        </button>
      </form>
      <p class="muted small">
        No account yet? The first admin is created with the one-time setup link printed in the server log, or with{" "}
        <code>llm-proxy admin create</code>.
      </p>
    </AuthFrame>
  );
}

export function SetupPage() {
  // The one-time token is read once and removed from the address bar (and so from the history).
  const [token] = useState(() => new URLSearchParams(location.value.search).get("token") ?? "");
  const [required, setRequired] = useState<boolean | undefined>();
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [wait, setWait] = useCountdown();

  useEffect(() => {
    document.title = "Set up · llm-proxy";
    if (location.value.search) history.replaceState(null, "", "/setup");
    api
      .get<{ setup_required: boolean }>("/api/auth/setup")
      .then((r) => setRequired(r.setup_required))
      .catch(() => setRequired(true));
  }, []);

  const short = password.length > 0 && password.length < MIN_PASSWORD;
  const mismatch = confirm.length > 0 && confirm !== password;

  const submit = async (e: Event) => {
    e.preventDefault();
    if (password.length < MIN_PASSWORD) return setError(`The password needs at least ${MIN_PASSWORD} characters.`);
    if (password !== confirm) return setError("The two passwords differ.");
    setBusy(true);
    setError(undefined);
    try {
      const r = await api.post<{ user: User }>("/api/auth/setup", { token, username, password });
      signedIn(r.user);
      navigate("/", { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 429) setWait(err.retryAfter ?? 30);
      if (err instanceof ApiError && err.status === 409) setRequired(false);
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  if (required === false)
    return (
      <AuthFrame title="Setup is complete" sub="An admin account already exists.">
        <a class="btn primary block" href="/login">
          Go to sign in
        </a>
      </AuthFrame>
    );
  if (!token)
    return (
      <AuthFrame title="Set up llm-proxy" sub="This page needs the one-time setup link from the server log.">
        <p>
          Start the server and open the <code>setup_url</code> it prints, or create the first admin with{" "}
          <code>llm-proxy admin create --username NAME --password-stdin</code>.
        </p>
        <a href="/login">Sign in instead</a>
      </AuthFrame>
    );
  return (
    <AuthFrame title="Create the first admin" sub="This one-time link creates the administrator account. It works once and expires after an hour.">
      <form onSubmit={submit} class="stack">
        <Field label="Username">
          <input name="username" autocomplete="username" required value={username} onInput={onValue(setUsername)} autofocus />
        </Field>
        <Field label="Password" hint={`At least ${MIN_PASSWORD} characters (${password.length} so far).`}>
          <input
            name="new-password"
            type="password"
            autocomplete="new-password"
            required
            minLength={MIN_PASSWORD}
            value={password}
            aria-invalid={short}
            onInput={onValue(setPassword)}
          />
        </Field>
        <Field label="Repeat the password" hint={mismatch ? "The passwords differ." : undefined}>
          <input name="confirm-password" type="password" autocomplete="new-password" required value={confirm} aria-invalid={mismatch} onInput={onValue(setConfirm)} />
        </Field>
        <ErrorBox error={error} />
        <button type="submit" class="btn primary block" disabled={busy || wait > 0}>
          {busy ? "Creating…" : wait > 0 ? `Try again in ${wait} s` : "Create admin and sign in"}
        </button>
      </form>
    </AuthFrame>
  );
}
