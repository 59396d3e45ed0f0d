import { signal } from "@preact/signals";
import { api } from "./api.ts";
import type { ClientKey, Provider } from "./types.ts";

/**
 * Client-key names and provider ids for tables and filters, loaded once per session and refreshed
 * when a page changes them. A failure leaves the lists empty (tables then show ids).
 */
export const keyNames = signal<Map<string, string>>(new Map());
export const providerIds = signal<string[]>([]);
let loadedKeys: Promise<void> | undefined;
let loadedProviders: Promise<void> | undefined;

export function loadKeyNames(force = false): Promise<void> {
  if (!loadedKeys || force) {
    loadedKeys = api
      .get<{ data: ClientKey[] }>("/api/keys")
      .then((r) => setKeys(r.data))
      .catch(() => {
        loadedKeys = undefined;
      });
  }
  return loadedKeys;
}

export function setKeys(keys: ClientKey[]): void {
  keyNames.value = new Map(keys.map((k) => [k.id, k.name]));
}

export function loadProviderIds(force = false): Promise<void> {
  if (!loadedProviders || force) {
    loadedProviders = api
      .get<{ data: Provider[] }>("/api/providers")
      .then((r) => setProviders(r.data))
      .catch(() => {
        loadedProviders = undefined;
      });
  }
  return loadedProviders;
}

export function setProviders(list: Provider[]): void {
  providerIds.value = list.map((p) => p.id);
}

export function keyLabel(id: string | null | undefined): string {
  if (!id) return "–";
  return keyNames.value.get(id) ?? id;
}
