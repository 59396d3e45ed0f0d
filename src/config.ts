import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { LOG_LEVELS } from "./logger.ts";
import { defaultDataDir } from "./paths.ts";

/**
 * Configuration: built-in defaults < config file (TOML) < environment < flags.
 * `loadConfig` is the only reader of `process.env` for settings. Each layer is validated on its
 * own so an error names where the bad value came from (file path + key, env var, or flag).
 */

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1).regex(/^[A-Za-z0-9.:\-\[\]%]+$/, "must be an IP address or host name");

/** Keys accepted in the TOML file (snake_case, the names are the interface). */
export const fileSchema = z.strictObject({
  host: host.optional(),
  port: port.optional(),
  data_dir: z.string().min(1).optional(),
  log_level: z.enum(LOG_LEVELS).optional(),
  log_format: z.enum(["auto", "text", "json"]).optional(),
  shutdown_grace_ms: z.number().int().min(0).max(3_600_000).optional(),
  encryption_key_file: z.string().min(1).optional(),
});
export type FileConfig = z.infer<typeof fileSchema>;

export type Config = {
  host: string;
  port: number;
  dataDir: string;
  logLevel: (typeof LOG_LEVELS)[number];
  logFormat: "auto" | "text" | "json";
  /** How long SIGTERM waits for in-flight requests before closing them. */
  shutdownGraceMs: number;
  /** Literal key from LLM_PROXY_ENCRYPTION_KEY (secret; never printed). */
  encryptionKey?: string;
  /** Path from LLM_PROXY_ENCRYPTION_KEY_FILE or `encryption_key_file`. */
  encryptionKeyFile?: string;
  /** The config file that was read, if any. */
  configFile?: string;
  /** Where each effective value came from, for `config check`. */
  origin: Record<string, "default" | "file" | "env" | "flag">;
};

export const DEFAULTS = {
  host: "127.0.0.1",
  port: 4141,
  log_level: "info",
  log_format: "auto",
  shutdown_grace_ms: 30_000,
} as const;

/** Settings that can come from flags (already parsed by the CLI). */
export type ConfigFlags = {
  config?: string;
  host?: string;
  port?: string;
  "data-dir"?: string;
  "log-level"?: string;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const ENV: Record<string, keyof FileConfig> = {
  LLM_PROXY_HOST: "host",
  LLM_PROXY_PORT: "port",
  LLM_PROXY_DATA_DIR: "data_dir",
  LLM_PROXY_LOG_LEVEL: "log_level",
  LLM_PROXY_LOG_FORMAT: "log_format",
  LLM_PROXY_SHUTDOWN_GRACE_MS: "shutdown_grace_ms",
  LLM_PROXY_ENCRYPTION_KEY_FILE: "encryption_key_file",
};
const FLAGS: Record<string, keyof FileConfig> = {
  host: "host",
  port: "port",
  "data-dir": "data_dir",
  "log-level": "log_level",
};
const NUMERIC = new Set<keyof FileConfig>(["port", "shutdown_grace_ms"]);

function issuesOf(error: z.ZodError, describe: (key: string) => string): string[] {
  return error.issues.map((i) => {
    const key = i.path.map(String).join(".") || "(root)";
    const msg = i.code === "unrecognized_keys" ? `unknown key(s) ${i.keys.map((k) => `'${k}'`).join(", ")}` : i.message;
    return `${describe(key)}: ${msg}`;
  });
}

/** Strings from env/flags become numbers for numeric keys; anything else stays for zod to reject. */
function coerce(key: keyof FileConfig, value: string): unknown {
  if (NUMERIC.has(key) && /^\s*\d+\s*$/.test(value)) return Number(value);
  return value;
}

function readConfigFile(file: string, required: boolean, problems: string[]): FileConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === "ENOENT") return {};
    problems.push(`config file ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return {};
  }
  let raw: unknown;
  try {
    raw = Bun.TOML.parse(text);
  } catch (e) {
    problems.push(`config file ${file}: invalid TOML: ${(e as Error).message}`);
    return {};
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    problems.push(...issuesOf(parsed.error, (k) => `${file}: ${k}`));
    return {};
  }
  return parsed.data;
}

/**
 * Builds the effective configuration. Throws ConfigError listing every invalid field.
 * @example loadConfig({ flags: { port: "8080" }, env: process.env })
 */
export function loadConfig(input: { flags?: ConfigFlags; env?: Record<string, string | undefined> } = {}): Config {
  const flags = input.flags ?? {};
  const env = input.env ?? process.env;
  const problems: string[] = [];

  const layer = (pairs: Array<[string, keyof FileConfig, string]>, describe: (src: string) => string) => {
    const obj: Record<string, unknown> = {};
    const names: Record<string, string> = {};
    for (const [src, key, value] of pairs) {
      obj[key] = coerce(key, value);
      names[key] = src;
    }
    const parsed = fileSchema.safeParse(obj);
    if (!parsed.success) {
      problems.push(...issuesOf(parsed.error, (k) => describe(names[k] ?? k)));
      return {} as FileConfig;
    }
    return parsed.data;
  };

  const envPairs = Object.entries(ENV).flatMap(([name, key]) =>
    env[name] !== undefined && env[name] !== "" ? [[name, key, env[name]!] as [string, keyof FileConfig, string]] : [],
  );
  const flagPairs = Object.entries(FLAGS).flatMap(([name, key]) => {
    const v = flags[name as keyof ConfigFlags];
    return v !== undefined ? [[name, key, v] as [string, keyof FileConfig, string]] : [];
  });
  const fromEnv = layer(envPairs, (n) => `environment ${n}`);
  const fromFlags = layer(flagPairs, (n) => `flag --${n}`);

  // The config file is looked up after env/flags because its default location is the data dir.
  const explicitFile = flags.config ?? (env.LLM_PROXY_CONFIG || undefined);
  const dataDirBeforeFile = fromFlags.data_dir ?? fromEnv.data_dir ?? defaultDataDir();
  const configFile = explicitFile ? path.resolve(explicitFile) : path.join(path.resolve(dataDirBeforeFile), "llm-proxy.toml");
  const fromFile = readConfigFile(configFile, explicitFile !== undefined, problems);
  const fileWasRead = explicitFile !== undefined || fs.existsSync(configFile);

  if (env.LLM_PROXY_ENCRYPTION_KEY !== undefined && env.LLM_PROXY_ENCRYPTION_KEY.trim() === "") {
    problems.push("environment LLM_PROXY_ENCRYPTION_KEY: is set but empty");
  }
  if (problems.length) throw new ConfigError(problems);

  const origin: Config["origin"] = {};
  function pick<K extends keyof FileConfig>(key: K, fallback: NonNullable<FileConfig[K]> | undefined) {
    if (fromFlags[key] !== undefined) return (origin[key] = "flag"), fromFlags[key];
    if (fromEnv[key] !== undefined) return (origin[key] = "env"), fromEnv[key];
    if (fromFile[key] !== undefined) return (origin[key] = "file"), fromFile[key];
    if (fallback !== undefined) origin[key] = "default";
    return fallback;
  }

  const encryptionKey = env.LLM_PROXY_ENCRYPTION_KEY?.trim() || undefined;
  if (encryptionKey) origin.encryption_key = "env";
  const keyFile = pick("encryption_key_file", undefined);
  return {
    host: pick("host", DEFAULTS.host)!,
    port: pick("port", DEFAULTS.port)!,
    dataDir: path.resolve(pick("data_dir", defaultDataDir())!),
    logLevel: pick("log_level", DEFAULTS.log_level)!,
    logFormat: pick("log_format", DEFAULTS.log_format)!,
    shutdownGraceMs: pick("shutdown_grace_ms", DEFAULTS.shutdown_grace_ms)!,
    encryptionKey,
    encryptionKeyFile: keyFile ? path.resolve(keyFile) : undefined,
    configFile: fileWasRead ? configFile : undefined,
    origin,
  };
}

/** The effective settings with secrets masked, as printed by `llm-proxy config check`. */
export function describeConfig(config: Config, keySource: string): Record<string, unknown> {
  return {
    config_file: config.configFile ?? "(none)",
    host: config.host,
    port: config.port,
    data_dir: config.dataDir,
    log_level: config.logLevel,
    log_format: config.logFormat,
    shutdown_grace_ms: config.shutdownGraceMs,
    encryption_key: keySource,
  };
}
