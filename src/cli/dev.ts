/**
 * `llm-proxy dev`: a zero-configuration gateway for coding agents on one laptop.
 *
 * - binds 127.0.0.1 (unless `--host`), providers from the conventional env vars (config.ts);
 * - data in `$XDG_DATA_HOME/llm-proxy` or `~/.local/share/llm-proxy` (`--data-dir` /
 *   `LLM_PROXY_DATA_DIR` override it), so every checkout and shell shares one key and one log;
 * - one client key, created on first run; its plaintext stays in `dev-client-key` (mode 0600) in
 *   the data directory so every later run can print it again (the database holds only its hash);
 * - without an Anthropic key, Claude Code's model names become aliases for the best configured
 *   provider (user `[models.aliases]` win);
 * - prints ready-to-paste settings for Claude Code, Codex CLI and OpenAI SDKs.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createClientKey, CLIENT_KEY_PREFIX, hashClientKey } from "../auth/client-keys.ts";
import { clientKeyProviders, ENV_PROVIDERS, type Config, type ConfigFlags, type ResolvedProvider } from "../config.ts";
import { DB_FILE, openDatabase, type Db } from "../db/client.ts";
import { listClientKeys, type ClientKeyRow } from "../db/client-keys.ts";
import { runMigrations } from "../db/migrate.ts";
import { keyPolicyFromRow, keyUsability } from "../governance/policy.ts";
import type { Logger } from "../logger.ts";
import { startServer, type RunningServer } from "../server/serve.ts";
import type { CliIO } from "./main.ts";

/** File in the data directory holding the dev client key in plaintext (mode 0600). */
export const DEV_KEY_FILE = "dev-client-key";
/** Name of the dev client key in `keys list` and the dashboard. */
export const DEV_KEY_NAME = "dev";
/** The header the request log records as `project`. */
export const PROJECT_HEADER = "x-llm-proxy-project";
/** The variable the printed Codex provider block reads the key from (`env_key`). */
export const CODEX_ENV_KEY = "LLM_PROXY_API_KEY";

/**
 * Dev-mode data directory: `$XDG_DATA_HOME/llm-proxy`, else `%LOCALAPPDATA%\llm-proxy` on Windows,
 * else `~/.local/share/llm-proxy` (also on macOS, like most command-line tools).
 */
export function devDataDir(env: Record<string, string | undefined>, platform: NodeJS.Platform = process.platform): string {
  const xdg = env.XDG_DATA_HOME?.trim();
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, "llm-proxy"); // relative values are invalid per the XDG spec
  if (platform === "win32" && env.LOCALAPPDATA) return path.join(env.LOCALAPPDATA, "llm-proxy");
  const home = env.HOME?.trim() || env.USERPROFILE?.trim() || os.homedir();
  return path.join(home, ".local", "share", "llm-proxy");
}

export type ClaudeTier = "opus" | "sonnet" | "haiku";
export const CLAUDE_TIERS: readonly ClaudeTier[] = ["opus", "sonnet", "haiku"];

/**
 * Model names Claude Code sends, per tier; the first of each is the name the printed
 * `ANTHROPIC_DEFAULT_*_MODEL` settings pin, so any Claude Code version sends a name listed here.
 * The rest cover a Claude Code started without those settings (its defaults change per release:
 * 2.1.197 sent claude-opus-4-8, 2.1.332 claude-opus-5-5; see shared/docs/AGENT-CLIENTS.md) and
 * the dated ids.
 */
export const CLAUDE_MODEL_NAMES: Record<ClaudeTier, readonly string[]> = {
  opus: [
    "claude-opus-4-1",
    "claude-opus-4-1-20250805",
    "claude-opus-4-0",
    "claude-opus-4-20250514",
    "claude-opus-4-5",
    "claude-opus-4-5-20251101",
    "claude-opus-4-6",
    "claude-opus-4-8",
    "claude-opus-5-5",
    "claude-3-opus-latest",
    "claude-3-opus-20240229",
  ],
  sonnet: [
    "claude-sonnet-4-5",
    "claude-sonnet-4-5-20250929",
    "claude-sonnet-4-6",
    "claude-sonnet-4-0",
    "claude-sonnet-4-20250514",
    "claude-3-7-sonnet-latest",
    "claude-3-7-sonnet-20250219",
    "claude-3-5-sonnet-latest",
    "claude-3-5-sonnet-20241022",
  ],
  haiku: ["claude-haiku-4-5", "claude-haiku-4-5-20251001", "claude-3-5-haiku-latest", "claude-3-5-haiku-20241022", "claude-3-haiku-20240307"],
};

/**
 * Which models stand in for Claude, best provider first. `big` serves opus and sonnet, `small`
 * haiku (Claude Code's quick background calls). `maxOutputTokens` is the lower output limit of the
 * two (models.dev `limit.output`): Claude Code asks for up to 128000 output tokens, which these
 * upstreams reject, so the printed settings cap it with CLAUDE_CODE_MAX_OUTPUT_TOKENS.
 * gpt-4.1 rather than gpt-4o: built for tool use and coding, 1M context (agent sessions outgrow
 * 128K), 32K output, and cheaper.
 */
export const DEV_MODEL_TABLE: ReadonlyArray<{ type: ResolvedProvider["type"]; big: string; small: string; maxOutputTokens: number }> = [
  { type: "openai", big: "gpt-4.1", small: "gpt-4.1-mini", maxOutputTokens: 32_768 },
  { type: "gemini", big: "gemini-2.5-pro", small: "gemini-2.5-flash", maxOutputTokens: 65_536 },
  { type: "grok", big: "grok-4", small: "grok-3-mini", maxOutputTokens: 8_192 },
  { type: "deepseek", big: "deepseek-chat", small: "deepseek-chat", maxOutputTokens: 8_192 },
];

export type ClaudeMapping =
  /** Claude model names go to the configured Anthropic provider unchanged. */
  | { kind: "anthropic"; provider: string }
  /** Claude model names are aliases for `targets` (`provider-id/model`). */
  | { kind: "mapped"; provider: string; targets: Record<ClaudeTier, string>; maxOutputTokens?: number }
  /** No provider can stand in. */
  | { kind: "none" };

/** Picks the provider and models Claude Code's names route to (see DEV_MODEL_TABLE). */
export function planClaudeMapping(providers: ResolvedProvider[]): ClaudeMapping {
  const usable = providers.filter((p) => p.apiKeys.length > 0 || p.type === "openai-compatible");
  const anthropic = usable.find((p) => p.type === "anthropic");
  if (anthropic) return { kind: "anthropic", provider: anthropic.id };
  for (const row of DEV_MODEL_TABLE) {
    const p = usable.find((q) => q.type === row.type);
    if (!p) continue;
    // A `models` allowlist that leaves out our pick: use its first model, limit unknown.
    const allowed = (m: string) => !p.models || p.models.includes(m);
    const big = allowed(row.big) ? row.big : p.models![0]!;
    const small = allowed(row.small) ? row.small : p.models![0]!;
    const exact = big === row.big && small === row.small;
    return {
      kind: "mapped",
      provider: p.id,
      targets: { opus: `${p.id}/${big}`, sonnet: `${p.id}/${big}`, haiku: `${p.id}/${small}` },
      maxOutputTokens: exact ? row.maxOutputTokens : undefined,
    };
  }
  const other = usable.find((p) => p.models?.length);
  if (other) {
    const t = `${other.id}/${other.models![0]}`;
    return { kind: "mapped", provider: other.id, targets: { opus: t, sonnet: t, haiku: t } };
  }
  return { kind: "none" };
}

/** The aliases dev mode adds: every Claude model name of a tier → that tier's target. */
export function claudeAliases(mapping: ClaudeMapping): Record<string, string[]> {
  if (mapping.kind !== "mapped") return {};
  const out: Record<string, string[]> = {};
  for (const tier of CLAUDE_TIERS) for (const name of CLAUDE_MODEL_NAMES[tier]) out[name] = [mapping.targets[tier]];
  return out;
}

/** Dev aliases under the user's: a name in `[models.aliases]` keeps the user's target. */
export function mergeAliases(dev: Record<string, string[]>, user: Record<string, string[]>): Record<string, string[]> {
  return { ...dev, ...user };
}

/** The model Codex should ask for: a `provider-id/model` name, which Codex never mistakes for a model it knows. */
export function codexModel(providers: ResolvedProvider[], mapping: ClaudeMapping): string {
  if (mapping.kind === "mapped") return mapping.targets.sonnet;
  const anthropic = providers.find((p) => p.type === "anthropic");
  if (anthropic) return `${anthropic.id}/claude-sonnet-4-5`;
  return "openai/gpt-4.1";
}

export type DevKey = {
  key: string;
  row: ClientKeyRow;
  file: string;
  created: boolean;
  /** Why a stored key was replaced by a new one. */
  replaced?: string;
  /** The stored key exists but cannot be used (disabled or expired in the dashboard). */
  unusable?: string;
};

/**
 * Returns the dev client key, creating it (and its 0600 plaintext file) when there is none, or
 * when the stored one was revoked or belongs to another database. A key that was disabled or
 * expired in the dashboard is kept as it is and reported, never silently replaced.
 */
export function ensureDevKey(db: Db, dataDir: string, now = Date.now()): DevKey {
  const file = path.join(dataDir, DEV_KEY_FILE);
  let stored: string | undefined;
  try {
    stored = fs.readFileSync(file, "utf8").trim() || undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  let replaced: string | undefined;
  if (stored) {
    const hash = hashClientKey(stored);
    const row = listClientKeys(db).find((r) => r.keyHash === hash);
    if (row && row.revokedAt === null) {
      try {
        if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
      } catch {}
      const usability = keyUsability(keyPolicyFromRow(row), now);
      return { key: stored, row, file, created: false, unusable: usability === "ok" ? undefined : usability };
    }
    replaced = row ? `the stored key ${row.id} was revoked` : `the stored key is not in this database`;
  }
  const { key, row } = createClientKey(db, DEV_KEY_NAME);
  // Written beside the target and renamed, so a reader never sees half a key; 0600 from the start.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, key + "\n", { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
  return { key, row, file, created: true, replaced };
}

/** Everything the ready-to-paste text needs. */
export type DevBannerInfo = {
  url: string; // http://127.0.0.1:PORT (no trailing slash)
  dataDir: string;
  key: DevKey;
  providers: ResolvedProvider[];
  mapping: ClaudeMapping;
  /** Effective aliases (dev + user). */
  aliases: Record<string, string[]>;
  /** Claude model names the user's `[models.aliases]` redefine. */
  userClaudeAliases: string[];
  codexModel: string;
  ignored: Array<{ env: string; why: string }>;
};

const ENV_HELP = ENV_PROVIDERS.filter((e) => e.env !== "GOOGLE_API_KEY").map((e) => (e.env === "GEMINI_API_KEY" ? "GEMINI_API_KEY (or GOOGLE_API_KEY)" : e.env));

function rule(title: string): string {
  return `── ${title} ${"─".repeat(Math.max(4, 72 - title.length))}`;
}

/** The text `llm-proxy dev` prints to stdout once it listens. */
export function renderDevBanner(info: DevBannerInfo): string {
  const { url, key, mapping } = info;
  const out: string[] = [];
  const line = (s = "") => out.push(s + "\n");
  line(`llm-proxy dev is ready on ${url} (loopback only; dashboard ${url}/)`);
  line(`  data directory  ${info.dataDir}`);
  const keyNote = key.created
    ? `created now${key.replaced ? ` (${key.replaced})` : ""}; kept in ${key.file} (mode 0600) and printed on every start`
    : `from ${key.file}`;
  line(`  client key      ${key.row.id} "${key.row.name}", ${keyNote}`);
  if (key.unusable) line(`  WARNING: this key is ${key.unusable}: enable it in the dashboard, or delete ${key.file} and restart for a new one`);
  for (const i of info.ignored) line(`  WARNING: ignored ${i.env}: ${i.why}`);
  if (info.providers.length) {
    line(`  providers       ${info.providers.map((p) => `${p.id} (${p.source === "env" ? p.apiKeys[0]?.ref.replace(/^env:/, "") : "config file"})`).join(", ")}`);
  } else {
    line();
    line("No provider keys found, so no model can answer yet. Set one or more and restart:");
    line(`  ${ENV_HELP.join(", ")}`);
    line("  (OPENAI_BASE_URL, with OPENAI_API_KEY, points the openai provider at any OpenAI-compatible server)");
  }
  line();

  const pinned: Record<ClaudeTier, string> = { opus: CLAUDE_MODEL_NAMES.opus[0]!, sonnet: CLAUDE_MODEL_NAMES.sonnet[0]!, haiku: CLAUDE_MODEL_NAMES.haiku[0]! };
  if (mapping.kind === "mapped") {
    line(`Model mapping: no Anthropic key, so Claude model names go to ${mapping.provider}:`);
    for (const tier of CLAUDE_TIERS) {
      const names = CLAUDE_MODEL_NAMES[tier];
      const target = info.aliases[names[0]!]?.join(", ") ?? mapping.targets[tier];
      const label = `${names[0]} (+${names.length - 1} more ${tier} names)`;
      line(`  ${tier.padEnd(7)}${label.padEnd(44)}→ ${target}`);
    }
    if (info.userClaudeAliases.length) line(`  your [models.aliases] take precedence for: ${info.userClaudeAliases.join(", ")}`);
    line(`  Every name: GET /v1/models. Any model of a configured provider works too, e.g. ANTHROPIC_MODEL=${mapping.targets.haiku}.`);
  } else if (mapping.kind === "anthropic") {
    line(`Model mapping: none needed; Claude model names go to ${mapping.provider} (ANTHROPIC_API_KEY is set).`);
    line("  Other providers' models work by name, e.g. claude --model openai/gpt-4.1.");
  } else {
    line("Model mapping: none yet (no provider); Claude model names are mapped once a provider key is set.");
  }
  line();

  line(rule("Claude Code: paste into the shell you run `claude` from"));
  line(`export ANTHROPIC_BASE_URL=${url}`);
  line(`export ANTHROPIC_AUTH_TOKEN=${key.key}`);
  if (mapping.kind === "mapped") {
    line(`export ANTHROPIC_MODEL=${pinned.sonnet}`);
    line(`export ANTHROPIC_DEFAULT_OPUS_MODEL=${pinned.opus}`);
    line(`export ANTHROPIC_DEFAULT_SONNET_MODEL=${pinned.sonnet}`);
    line(`export ANTHROPIC_DEFAULT_HAIKU_MODEL=${pinned.haiku}`);
    line(`export ANTHROPIC_SMALL_FAST_MODEL=${pinned.haiku}`);
    if (mapping.maxOutputTokens) line(`export CLAUDE_CODE_MAX_OUTPUT_TOKENS=${mapping.maxOutputTokens}   # the mapped models' output limit`);
  }
  line(`export ANTHROPIC_CUSTOM_HEADERS="${PROJECT_HEADER}: myproj"   # optional: cost per project`);
  line("# optional, no telemetry or update checks: export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1");
  line();

  line(rule("Codex CLI: append to ~/.codex/config.toml"));
  line("[model_providers.llm-proxy]");
  line('name = "llm-proxy"');
  line(`base_url = "${url}/v1"`);
  line(`env_key = "${CODEX_ENV_KEY}"`);
  line('wire_api = "responses"');
  line(`http_headers = { "${PROJECT_HEADER}" = "myproj" }   # optional: cost per project`);
  line("then run:");
  line(`  export ${CODEX_ENV_KEY}=${key.key}`);
  line(`  codex -c model_provider=llm-proxy -m ${info.codexModel}`);
  line();

  line(rule("OpenAI SDKs and OpenAI-compatible tools"));
  line(`export OPENAI_BASE_URL=${url}/v1`);
  line(`export OPENAI_API_KEY=${key.key}`);
  line(`# per project: new OpenAI({ defaultHeaders: { "${PROJECT_HEADER}": "myproj" } })   (Python: default_headers=)`);
  line("# only in your tools' shells: where llm-proxy runs, these two configure its upstream");
  line();

  line("Costs per tool: give each tool its own key (then use it in place of the key above):");
  line(`  llm-proxy keys create --name claude-code --data-dir ${shellQuote(info.dataDir)}`);
  line(`  llm-proxy keys create --name codex --data-dir ${shellQuote(info.dataDir)}`);
  line(`Requests: llm-proxy requests --data-dir ${shellQuote(info.dataDir)}   Stop: Ctrl-C`);
  return out.join("");
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Loads the configuration the dev way, prepares the key and aliases, starts the server and prints
 * the settings. `configure` is the CLI's config + logger setup (main.ts).
 */
export async function startDev(
  flags: ConfigFlags,
  io: CliIO,
  configure: (flags: ConfigFlags, io: CliIO) => { config: Config; logger: Logger },
): Promise<{ running: RunningServer; logger: Logger; config: Config; banner: string }> {
  const devFlags: ConfigFlags = {
    ...flags,
    host: flags.host ?? "127.0.0.1", // loopback whatever LLM_PROXY_HOST or the config file say
    "data-dir": flags["data-dir"] ?? (io.env.LLM_PROXY_DATA_DIR ? undefined : devDataDir(io.env)),
  };
  const { config, logger } = configure(devFlags, io);

  const ignored: DevBannerInfo["ignored"] = [];
  for (const { provider, env } of clientKeyProviders(config.providers)) {
    ignored.push({ env, why: `it holds an llm-proxy client key (${CLIENT_KEY_PREFIX}…), a client setting; the ${provider.id} provider needs its own API key` });
  }
  config.providers = config.providers.filter((p) => !ignored.some((i) => p.apiKeys[0]?.ref === `env:${i.env}`));

  const mapping = planClaudeMapping(config.providers);
  const userAliases = config.aliases;
  config.aliases = mergeAliases(claudeAliases(mapping), userAliases);

  // The key is created on a connection of its own before the server starts, so the server's key
  // verifier sees it from its first request.
  // Parents such as ~/.local/share get the usual mode; the data directory itself is private.
  fs.mkdirSync(path.dirname(config.dataDir), { recursive: true });
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const handle = openDatabase(path.join(config.dataDir, DB_FILE));
  let key: DevKey;
  try {
    const report = runMigrations(handle);
    if (report.applied) logger.info("database migrated", { applied: report.applied, backup: report.backup });
    key = ensureDevKey(handle.db, config.dataDir);
  } finally {
    handle.close();
  }

  const running = await startServer(config, logger);
  const host = running.url.hostname.includes(":") && !running.url.hostname.startsWith("[") ? `[${running.url.hostname}]` : running.url.hostname;
  const url = `${running.url.protocol}//${host}:${running.url.port}`;
  const claudeNames = new Set(CLAUDE_TIERS.flatMap((t) => CLAUDE_MODEL_NAMES[t]));
  const banner = renderDevBanner({
    url,
    dataDir: config.dataDir,
    key,
    providers: config.providers,
    mapping,
    aliases: config.aliases,
    userClaudeAliases: Object.keys(userAliases).filter((a) => claudeNames.has(a)),
    codexModel: codexModel(config.providers, mapping),
    ignored,
  });
  io.out(banner);
  return { running, logger, config, banner };
}
