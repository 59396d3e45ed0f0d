import { api } from "./api.ts";
import { startLive, stopLive } from "./live.ts";
import { location, navigate } from "./router.ts";
import { currentUser, type User } from "./state.ts";

/** Signs in the app state after login/setup, and starts the live connection. */
export function signedIn(user: User): void {
  currentUser.value = user;
  startLive({ onUnauthorized: expired });
}

export function expired(): void {
  if (currentUser.value === null) return;
  currentUser.value = null;
  stopLive();
  const here = location.value.path + location.value.search;
  navigate(`/login${here && here !== "/" && !here.startsWith("/login") ? `?next=${encodeURIComponent(here)}` : ""}`, { replace: true });
}

export async function signOut(): Promise<void> {
  try {
    await api.post("/api/auth/logout");
  } catch {
    // Signed out locally either way; the cookie is cleared by the server when it can be reached.
  }
  stopLive();
  currentUser.value = null;
  navigate("/login");
}

