import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SNAPSHOT_FILE } from "./embedded.macro.ts";
import { PricingRegistry } from "./registry.ts";
import type { PricingOverrides } from "./schema.ts";

export const DEFAULT_PRICING_SOURCE = "https://models.dev/api.json";
export const DEFAULT_REFRESH_MS = 24 * 60 * 60 * 1000;
const DEFAULT_TIMEOUT_MS = 30_000;

/** Where the last good copy lives in the data directory. */
export function defaultCacheFile(dataDir: string): string {
  return path.join(dataDir, "models-dev.json");
}

type SourceLog = {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
};

export type PricingSourceOptions = {
  /** `https://…` URL, `file:` URL or a local path to a models.dev api.json. */
  source: string;
  /** Last good copy; written atomically after every successful fetch. */
  cacheFile: string;
  /** Refresh interval (default 24 h). */
  refreshMs?: number;
  /** Injected in tests; defaults to globalThis.fetch. */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /** Snapshot embedded at build time (text or parsed JSON), e.g. `EMBEDDED_SNAPSHOT` from embedded.ts. */
  embedded?: unknown;
  overrides?: PricingOverrides;
  log?: SourceLog;
  /** One fetch (headers + body) may take this long before it counts as failed (default 30 s). */
  timeoutMs?: number;
  /** Called after each swap to a new registry. */
  onUpdate?: (registry: PricingRegistry) => void;
};

export type PricingSourceStatus = {
  source: string;
  /** Where the current registry came from: `cache`, `embedded`, `empty` or the source. */
  loadedFrom: string;
  version: string;
  models: number;
  lastAttemptAt?: number;
  lastSuccessAt?: number;
  lastError?: string;
  refreshing: boolean;
};

export type PricingSource = {
  /** The registry to price with now. Never waits on the network: cache file, embedded snapshot or empty. */
  current(): PricingRegistry;
  /** Starts the background fetch (on the next tick, then every `refreshMs`). Returns at once. */
  start(): void;
  /** Stops the timer and abandons an in-flight fetch. */
  stop(): void;
  /** One fetch now; resolves true when a new registry was swapped in (never rejects). */
  refresh(): Promise<boolean>;
  /** Replaces the overrides (config reload) without refetching. */
  setOverrides(overrides: PricingOverrides | undefined): void;
  status(): PricingSourceStatus;
};

const noopLog: SourceLog = { info() {}, warn() {} };

/** Newest `last_updated`/`release_date` in an api.json text: a cheap "how fresh is this data" proxy. */
export function dataDate(text: string): string {
  let newest = "";
  for (const m of text.matchAll(/"(?:last_updated|release_date)"\s*:\s*"(\d{4}-\d{2}(?:-\d{2})?)"/g)) if (m[1]! > newest) newest = m[1]!;
  return newest;
}

/** Writes `text` to `file` via a temporary file in the same directory, fsync and rename (atomic). */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    const handle = await fs.promises.open(tmp, "w", 0o644);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}

function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Reads the source (URL or file) with a hard timeout that also covers fetches that ignore the signal. */
async function readSource(source: string, fetchFn: NonNullable<PricingSourceOptions["fetch"]>, signal: AbortSignal, timeoutMs: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    signal.addEventListener("abort", () => reject(new Error("stopped")), { once: true });
  });
  const read = async () => {
    if (isUrl(source)) {
      const response = await fetchFn(source, { signal, headers: { accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return await response.text();
    }
    const file = source.startsWith("file:") ? fileURLToPath(source) : source;
    return await fs.promises.readFile(file, "utf8");
  };
  try {
    return await Promise.race([read(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Keeps the pricing registry fresh without ever blocking startup or a request.
 *
 * @example
 * const pricing = createPricingSource({ source: DEFAULT_PRICING_SOURCE, cacheFile: defaultCacheFile(dataDir),
 *   embedded: EMBEDDED_SNAPSHOT, overrides: config.pricing?.overrides, log });
 * pricing.start();               // background; returns at once
 * pricing.current().lookup(...)  // cache file, embedded snapshot or empty until the first fetch lands
 */
export function createPricingSource(options: PricingSourceOptions): PricingSource {
  const log = options.log ?? noopLog;
  const refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  let overrides = options.overrides;
  let registry: PricingRegistry | undefined;
  let loadedFrom = "empty";
  let timer: ReturnType<typeof setInterval> | undefined;
  let kickoff: ReturnType<typeof setTimeout> | undefined;
  let inflight: Promise<boolean> | undefined;
  let controller: AbortController | undefined;
  const status: Omit<PricingSourceStatus, "loadedFrom" | "version" | "models" | "refreshing"> = { source: options.source };

  /** Cache file unless the embedded snapshot holds newer data; else the embedded one; else empty. */
  function initial(): PricingRegistry {
    let cacheText: string | undefined;
    try {
      cacheText = fs.readFileSync(options.cacheFile, "utf8");
    } catch {
      cacheText = undefined;
    }
    const embedded = options.embedded;
    const embeddedText = typeof embedded === "string" ? embedded : embedded && typeof embedded === "object" ? JSON.stringify(embedded) : undefined;
    const order: Array<[string, string | undefined]> =
      cacheText && embeddedText && dataDate(embeddedText) > dataDate(cacheText)
        ? [["embedded", embeddedText], ["cache", cacheText]]
        : [["cache", cacheText], ["embedded", embeddedText]];
    for (const [from, text] of order) {
      if (!text) continue;
      try {
        const parsed = PricingRegistry.fromText(text, { overrides, source: from });
        if (parsed.info.models === 0) throw new Error("no models");
        loadedFrom = from;
        log.info("pricing registry loaded", { from, version: parsed.info.version, models: parsed.info.models });
        return parsed;
      } catch (err) {
        log.warn("pricing registry copy unusable", { from, error: errorText(err) });
      }
    }
    loadedFrom = "empty";
    log.warn("no pricing data yet: requests stay unpriced until the pricing source is loaded", { source: options.source });
    return PricingRegistry.empty({ overrides });
  }

  function current(): PricingRegistry {
    registry ??= initial();
    return registry;
  }

  async function fetchOnce(): Promise<boolean> {
    const abort = new AbortController();
    controller = abort;
    status.lastAttemptAt = Date.now();
    try {
      const text = await readSource(options.source, fetchFn, abort.signal, timeoutMs);
      const next = PricingRegistry.fromText(text, { overrides, source: options.source });
      if (next.info.models === 0) throw new Error("the document lists no models");
      status.lastSuccessAt = Date.now();
      status.lastError = undefined;
      if (registry && registry.info.version === next.info.version && loadedFrom !== "embedded") {
        loadedFrom = options.source;
        return false;
      }
      try {
        await writeFileAtomic(options.cacheFile, text);
      } catch (err) {
        log.warn("could not write the pricing cache file", { file: options.cacheFile, error: errorText(err) });
      }
      if (abort.signal.aborted) return false;
      registry = next;
      loadedFrom = options.source;
      log.info("pricing registry updated", { source: options.source, version: next.info.version, models: next.info.models });
      options.onUpdate?.(next);
      return true;
    } catch (err) {
      status.lastError = errorText(err);
      if (!abort.signal.aborted) {
        log.warn("pricing refresh failed; keeping the last good copy", { source: options.source, error: status.lastError, using: loadedFrom });
      }
      return false;
    } finally {
      controller = undefined;
    }
  }

  function refresh(): Promise<boolean> {
    current();
    inflight ??= fetchOnce().finally(() => (inflight = undefined));
    return inflight;
  }

  return {
    current,
    refresh,
    start() {
      if (timer) return;
      // The first fetch (and the parse of the local copy, ~10–30 ms for a full api.json) runs on the
      // next tick, so start() costs the caller nothing.
      kickoff = setTimeout(() => void refresh(), 0);
      timer = setInterval(() => void refresh(), refreshMs);
      timer.unref?.();
    },
    stop() {
      clearTimeout(kickoff);
      if (timer) clearInterval(timer);
      timer = undefined;
      controller?.abort();
    },
    setOverrides(next) {
      overrides = next;
      if (registry) registry = registry.withOverrides(next);
    },
    status() {
      const r = current();
      return { ...status, loadedFrom, version: r.info.version, models: r.info.models, refreshing: inflight !== undefined };
    },
  };
}

/**
 * For build.ts: fetches a models.dev api.json into `src/pricing/snapshot/models-dev.json` so the
 * embedded.ts macro inlines it. Resolves false (and leaves no file) when offline or invalid; a build
 * must not fail because of it.
 */
export async function writeSnapshot(options: { source?: string; file?: string; fetch?: PricingSourceOptions["fetch"]; timeoutMs?: number } = {}): Promise<boolean> {
  const source = options.source ?? DEFAULT_PRICING_SOURCE;
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  try {
    const text = await readSource(source, fetchFn, new AbortController().signal, options.timeoutMs ?? 15_000);
    if (PricingRegistry.fromText(text).info.models === 0) return false;
    await writeFileAtomic(options.file ?? SNAPSHOT_FILE, text);
    return true;
  } catch {
    return false;
  }
}
