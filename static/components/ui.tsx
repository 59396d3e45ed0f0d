import { cloneElement, isValidElement, type ComponentChildren, type TargetedEvent } from "preact";
import { useCallback, useEffect, useId, useLayoutEffect, useRef, useState } from "preact/hooks";
import { errorMessage } from "../lib/api.ts";
import { toast } from "../lib/state.ts";

// ---- data loading ------------------------------------------------------------------------------

export type Loaded<T> = {
  data?: T;
  error?: string;
  loading: boolean;
  reload: () => Promise<void>;
  setData: (fn: (prev: T | undefined) => T | undefined) => void;
};

/** Loads with `fn` when `deps` change (aborting the previous load); `reload()` loads again. */
export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const ctrl = useRef<AbortController | undefined>(undefined);
  const run = useCallback(async () => {
    ctrl.current?.abort();
    const c = new AbortController();
    ctrl.current = c;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await fnRef.current(c.signal);
      if (!c.signal.aborted) setState({ data, loading: false });
    } catch (e) {
      if (!c.signal.aborted) setState((s) => ({ data: s.data, error: errorMessage(e), loading: false }));
    }
  }, []);
  useEffect(() => {
    void run();
    return () => ctrl.current?.abort();
  }, deps);
  const setData = useCallback((f: (prev: T | undefined) => T | undefined) => setState((s) => ({ ...s, data: f(s.data) })), []);
  return { ...state, reload: run, setData };
}

/** Runs an action, tracking busy/error state; on success shows `ok` as a toast when given. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = useCallback(async <R,>(fn: () => Promise<R>, ok?: string): Promise<R | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await fn();
      if (ok) toast(ok);
      return r;
    } catch (e) {
      setError(errorMessage(e));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}

// ---- small pieces ------------------------------------------------------------------------------

export function Spinner({ label = "Loading" }: { label?: string }) {
  return <span class="spinner" role="status" aria-label={label} />;
}

export function Loading({ what = "Loading…" }: { what?: string }) {
  return (
    <div class="loading">
      <Spinner /> <span>{what}</span>
    </div>
  );
}

export function ErrorBox({ error, onRetry }: { error?: string; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div class="alert error" role="alert">
      <span>{error}</span>
      {onRetry && (
        <button type="button" class="btn small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export type Tone = "ok" | "warn" | "bad" | "info" | "muted";
export function Badge({ tone = "muted", children, title }: { tone?: Tone; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge ${tone}`} title={title}>
      {children}
    </span>
  );
}

/** A horizontal bar: `value` of `max` (over budget turns red). */
export function Progress({ value, max, label }: { value: number; max: number; label: string }) {
  const ratio = max > 0 ? value / max : 0;
  const tone = ratio >= 1 ? "bad" : ratio >= 0.8 ? "warn" : "ok";
  return (
    <div
      class={`progress ${tone}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={max}
      aria-valuenow={Math.min(value, max)}
    >
      <div class="progress-bar" style={{ width: `${Math.min(100, Math.max(ratio > 0 ? 2 : 0, ratio * 100)).toFixed(1)}%` }} />
    </div>
  );
}

export function PageHeader({ title, children, sub }: { title: string; sub?: ComponentChildren; children?: ComponentChildren }) {
  return (
    <div class="page-header">
      <div>
        <h1>{title}</h1>
        {sub && <p class="muted sub">{sub}</p>}
      </div>
      {children && <div class="actions">{children}</div>}
    </div>
  );
}

export function Card({ title, children, actions, class: cls }: { title?: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren; class?: string }) {
  return (
    <section class={`card ${cls ?? ""}`}>
      {(title || actions) && (
        <div class="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div class="actions">{actions}</div>}
        </div>
      )}
      {children}
    </section>
  );
}

/** A segmented choice (e.g. the overview range): real buttons with aria-pressed. */
export function Segmented<T extends string>({ value, options, onChange, label }: { value: T; options: Array<{ value: T; label: string }>; onChange: (v: T) => void; label: string }) {
  return (
    <div class="segmented" role="group" aria-label={label}>
      {options.map((o) => (
        <button type="button" key={o.value} aria-pressed={o.value === value} onClick={() => onChange(o.value)}>
          {o.label}
        </button>
      ))}
    </div>
  );
}

// ---- forms -------------------------------------------------------------------------------------

/**
 * A labelled form control: the label wraps the control (so its name is just the label text and a
 * click focuses it); the hint sits outside the label and is tied to the control with
 * aria-describedby.
 */
export function Field({ label, hint, children, class: cls }: { label: ComponentChildren; hint?: ComponentChildren; children: ComponentChildren; class?: string }) {
  const hintId = useId();
  const control = hint && isValidElement(children) ? cloneElement(children, { "aria-describedby": hintId }) : children;
  return (
    <div class={`field ${cls ?? ""}`}>
      <label class="field-control">
        <span class="field-label">{label}</span>
        {control}
      </label>
      {hint && (
        <small class="hint" id={hintId}>
          {hint}
        </small>
      )}
    </div>
  );
}

export function Check({ label, checked, onChange, hint }: { label: string; checked: boolean; onChange: (v: boolean) => void; hint?: string }) {
  return (
    <label class="check">
      <input type="checkbox" checked={checked} onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked)} />
      <span>
        {label}
        {hint && <small class="hint"> {hint}</small>}
      </span>
    </label>
  );
}

/** onInput handler that passes the input's value. */
export const onValue = (fn: (v: string) => void) => (e: TargetedEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>) =>
  fn(e.currentTarget.value);

// ---- dialogs -----------------------------------------------------------------------------------

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * A modal dialog (native <dialog> with showModal: the page behind is inert). Tab and Shift+Tab
 * cycle inside it, Escape closes it, and focus returns to where it was when it closes.
 * Mount it only while open.
 */
export function Dialog({
  title,
  onClose,
  children,
  footer,
  wide,
  onSubmit,
  submit,
  busy,
  error,
  danger,
}: {
  title: ComponentChildren;
  onClose: () => void;
  children: ComponentChildren;
  footer?: ComponentChildren;
  wide?: boolean;
  /** When given, the body is a form and Enter submits it. */
  onSubmit?: () => void;
  /** Label of the submit button; with it the footer is "Cancel" + that button. */
  submit?: string;
  busy?: boolean;
  error?: string;
  danger?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  useLayoutEffect(() => {
    const d = ref.current!;
    const previous = document.activeElement as HTMLElement | null;
    if (!d.open) d.showModal();
    const first =
      d.querySelector<HTMLElement>("[autofocus]") ??
      d.querySelector<HTMLElement>(".dialog-body :is(input:not([disabled]):not([readonly]), select, textarea, button)") ??
      d.querySelector<HTMLElement>(".dialog-foot button");
    (first ?? d).focus();
    return () => {
      if (d.open) d.close();
      previous?.focus?.();
    };
  }, []);
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== "Tab") return;
    const items = Array.from(ref.current!.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((el) => el.offsetParent !== null);
    if (!items.length) return;
    const first = items[0]!, last = items[items.length - 1]!;
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
  const foot =
    footer ??
    (submit && (
      <>
        <button type="button" class="btn" onClick={() => closeRef.current()}>
          Cancel
        </button>
        <button type="submit" class={`btn ${danger ? "danger" : "primary"}`} disabled={busy}>
          {busy ? "Working…" : submit}
        </button>
      </>
    ));
  const body = (
    <>
      <div class="dialog-body">
        {children}
        <ErrorBox error={error} />
      </div>
      {foot && <div class="dialog-foot">{foot}</div>}
    </>
  );
  return (
    <dialog
      ref={ref}
      class={wide ? "wide" : ""}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        closeRef.current();
      }}
      onKeyDown={onKeyDown}
      tabIndex={-1}
    >
      <div class="dialog-head">
        <h2 id={titleId}>{title}</h2>
        <button type="button" class="icon-btn" aria-label="Close" onClick={() => closeRef.current()}>
          ×
        </button>
      </div>
      {onSubmit ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            onSubmit();
          }}
        >
          {body}
        </form>
      ) : (
        body
      )}
    </dialog>
  );
}

/** "Are you sure?" with a danger button. */
export function Confirm({
  title,
  children,
  action,
  onConfirm,
  onClose,
}: {
  title: string;
  children: ComponentChildren;
  action: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}) {
  const { busy, error, run } = useAction();
  return (
    <Dialog
      title={title}
      onClose={onClose}
      onSubmit={async () => {
        const r = await run(async () => {
          await onConfirm();
          return true;
        });
        if (r) onClose();
      }}
      submit={action}
      busy={busy}
      error={error}
      danger
    >
      {children}
    </Dialog>
  );
}

/** A secret shown once, with a copy button (Clipboard API; else the text is selected for Ctrl+C). */
export function CopyField({ value, label }: { value: string; label: string }) {
  const ref = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<"" | "copied" | "select">("");
  const copy = async () => {
    try {
      if (!navigator.clipboard) throw new Error("no clipboard");
      await navigator.clipboard.writeText(value);
      setCopied("copied");
    } catch {
      ref.current?.focus();
      ref.current?.select();
      setCopied("select");
    }
  };
  return (
    <div class="copy-field">
      <input
        ref={ref}
        class="mono"
        readOnly
        value={value}
        aria-label={label}
        spellcheck={false}
        autocomplete="off"
        onFocus={(e) => e.currentTarget.select()}
        data-testid="secret-value"
      />
      <button type="button" class="btn primary" onClick={copy}>
        {copied === "copied" ? "Copied" : "Copy"}
      </button>
      <span class="copy-note" aria-live="polite">
        {copied === "copied" ? "Copied to the clipboard." : copied === "select" ? "Copying is blocked here: the key is selected, press Ctrl+C (⌘C)." : ""}
      </span>
    </div>
  );
}

/** JSON in a collapsible block (request/response bodies, raw usage). */
export function JsonBlock({ value, summary, open }: { value: unknown; summary: string; open?: boolean }) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return (
    <details class="json" open={open}>
      <summary>{summary}</summary>
      <pre class="mono">{text}</pre>
    </details>
  );
}
