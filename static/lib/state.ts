import { computed, signal } from "@preact/signals";

export type Role = "admin" | "viewer";
export type User = { id: string; username: string; role: Role };

/** undefined while the first /api/auth/me is in flight; null when signed out. */
export const currentUser = signal<User | null | undefined>(undefined);
export const isAdmin = computed(() => currentUser.value?.role === "admin");

/** Theme: follows the system unless the user picked one (kept in localStorage). */
export type ThemeChoice = "system" | "light" | "dark";
const THEME_KEY = "llm-proxy.theme";
const media = window.matchMedia("(prefers-color-scheme: dark)");

function readChoice(): ThemeChoice {
  try {
    const v = localStorage.getItem(THEME_KEY);
    return v === "light" || v === "dark" ? v : "system";
  } catch {
    return "system";
  }
}

export const themeChoice = signal<ThemeChoice>(readChoice());
const systemDark = signal(media.matches);
media.addEventListener("change", (e) => (systemDark.value = e.matches));
/** The theme in effect: charts read it to pick their colours. */
export const theme = computed<"light" | "dark">(() =>
  themeChoice.value === "system" ? (systemDark.value ? "dark" : "light") : themeChoice.value,
);

export function applyTheme(): void {
  const root = document.documentElement;
  root.dataset.theme = theme.value;
  root.style.colorScheme = theme.value;
}

export function setTheme(choice: ThemeChoice): void {
  themeChoice.value = choice;
  try {
    if (choice === "system") localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, choice);
  } catch {}
}

/** Short-lived notices ("Key revoked", errors of background actions). */
export type Toast = { id: number; text: string; kind: "ok" | "error" };
export const toasts = signal<Toast[]>([]);
let toastId = 0;
export function toast(text: string, kind: Toast["kind"] = "ok"): void {
  const id = ++toastId;
  toasts.value = [...toasts.value, { id, text, kind }];
  setTimeout(() => (toasts.value = toasts.value.filter((t) => t.id !== id)), kind === "error" ? 8000 : 4000);
}
