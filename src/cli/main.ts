import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { decodeKey, GENERATED_KEY_FILE, KeyError, loadEncryptionKey } from "../auth/encryption-key.ts";
import { rotateProviderSecrets } from "../admin/provider-store.ts";
import { ConfigError, describeConfig, loadConfig, type Config, type ConfigFlags } from "../config.ts";
import { backupDatabase, DB_FILE, openDatabase } from "../db/client.ts";
import { runMigrations, SchemaTooNewError } from "../db/migrate.ts";
import { createLogger, type Logger } from "../logger.ts";
import { startServer } from "../server/serve.ts";
import { VERSION } from "../version.ts";
import { createClientKey } from "../auth/client-keys.ts";
import { listClientKeys, revokeClientKey } from "../db/client-keys.ts";
import { RequestLogStore, type RequestRow } from "../db/request-log.ts";
import { formatRequestTable, parseSince, picoToUsd, requestJson } from "./requests-format.ts";
import { recomputeCosts } from "../recorder/recompute.ts";
import { EMBEDDED_SNAPSHOT } from "../pricing/embedded.ts";
import { createPricer } from "../pricing/price.ts";
import { createPricingSource, defaultCacheFile } from "../pricing/source.ts";
import { binaryNotes, installService, renderUnit, uninstallService } from "./service.ts";
import { bcryptHasher, ROLES, Users, type Role } from "../auth/users.ts";
import { AuditLog } from "../auth/audit.ts";
import { deleteSetupTokens } from "../db/users.ts";
import { ClientError } from "../errors.ts";
import { startDev } from "./dev.ts";
import type { RunningServer } from "../server/serve.ts";

export const HELP = `llm-proxy ${VERSION} — self-hosted LLM gateway

Usage: llm-proxy [command] [flags]

Commands:
  serve                    Run the gateway (default when no command is given)
  dev                      Zero-config gateway for coding agents on this machine: binds 127.0.0.1,
                           providers from OPENAI_API_KEY, GEMINI_API_KEY, ANTHROPIC_API_KEY, …,
                           data in ~/.local/share/llm-proxy (or $XDG_DATA_HOME/llm-proxy), a client
                           key kept there, Claude model names mapped to your provider, and prints
                           settings for Claude Code, Codex and OpenAI SDKs
  migrate                  Apply database migrations and exit
  config check             Validate the configuration and print the effective settings (secrets masked)
  backup FILE              Write a consistent copy of the database to FILE (safe while the server runs)
  admin create --username NAME --password-stdin [--role admin|viewer]
                           Create a dashboard user (default role admin), reading the password
                           (12-1024 characters) from standard input; works while the server runs
  keys create --name NAME  Create a client API key for /v1 (printed once, on the last line)
  keys list                List client keys (never the keys themselves)
  keys revoke ID           Revoke a client key (takes effect on the running server at once)
  requests [--since DURATION|DATE] [--limit N] [--project NAME] [--json]
                           List logged requests, newest first (works while the server runs);
                           times are UTC, and so is a --since time without a zone
  costs recompute --since DURATION|DATE
                           Re-price logged requests with the current prices and overrides
  secrets rotate --new-key-file PATH
                           Re-encrypt stored provider keys under a new encryption key (server stopped)
  service install [--user] [--print]
                           Install a hardened systemd unit (--print only prints it)
  service uninstall [--user]
                           Remove the systemd unit (configuration and data are kept)
  help                     Show this help

Flags:
  --config PATH            Config file (TOML)            env LLM_PROXY_CONFIG
                           default: llm-proxy.toml in the data directory, if present
  --host HOST              Address to bind               env LLM_PROXY_HOST       default 127.0.0.1
  --port PORT              Port to listen on             env LLM_PROXY_PORT       default 4141
  --data-dir DIR           Database, key and backups     env LLM_PROXY_DATA_DIR
                           default: ./llm-proxy-data beside the executable
  --log-level LEVEL        debug | info | warn | error   env LLM_PROXY_LOG_LEVEL  default info
  -v, --version            Print the version
  -h, --help               Show this help

Environment only:
  LLM_PROXY_ENCRYPTION_KEY       32-byte key as 64 hex chars or base64 (never put it in the config file)
  LLM_PROXY_ENCRYPTION_KEY_FILE  File holding the key (systemd LoadCredential friendly)
  LLM_PROXY_LOG_FORMAT           auto | text | json (auto: text on a terminal, JSON lines otherwise)
  LLM_PROXY_SHUTDOWN_GRACE_MS    How long SIGTERM waits for in-flight requests (default 30000)

Exit status: 0 success, 1 runtime failure, 2 invalid usage or configuration.
`;

export type CliIO = {
  out: (text: string) => void;
  err: (text: string) => void;
  env: Record<string, string | undefined>;
  /** Reads all of standard input (`--password-stdin`). */
  stdin?: () => Promise<string>;
  /** Installs signal handlers for `serve`; tests pass a fake. */
  onSignal?: (signals: NodeJS.Signals[], handler: (signal: NodeJS.Signals) => void) => void;
};

const defaultIO: CliIO = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  env: process.env,
  stdin: () => Bun.stdin.text(),
  onSignal: (signals, handler) => signals.forEach((s) => process.on(s, () => handler(s))),
};

export class UsageError extends Error {}

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        "data-dir": { type: "string" },
        "log-level": { type: "string" },
        user: { type: "boolean" },
        name: { type: "string" },
        username: { type: "string" },
        "password-stdin": { type: "boolean" },
        role: { type: "string" },
        json: { type: "boolean" },
        since: { type: "string" },
        "new-key-file": { type: "string" },
        limit: { type: "string" },
        project: { type: "string" },
        print: { type: "boolean" },
        version: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    const message = (e as Error).message;
    // A value starting with "-" (`--limit -1`, `--since -5m`): name the value, not parseArgs' workaround.
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    if (unknown) throw new UsageError(`unknown flag '${unknown[1]}'`);
    const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message);
    if (ambiguous) {
      const value = args[args.indexOf(ambiguous[1]!) + 1];
      throw new UsageError(`${ambiguous[1]}: '${value}' is not a valid value`);
    }
    throw new UsageError(message);
  }
}

/** Flags that belong to one command (the others are global: --config, --host, --port, --data-dir, --log-level). */
const COMMAND_FLAGS: Record<string, readonly string[]> = {
  "admin create": ["username", "password-stdin", "role"],
  "keys create": ["name"],
  "keys list": ["json"],
  requests: ["since", "limit", "json", "project"],
  "costs recompute": ["since"],
  "secrets rotate": ["new-key-file"],
  "service install": ["user", "print"],
  "service uninstall": ["user"],
};
const SCOPED_FLAGS = new Set(Object.values(COMMAND_FLAGS).flat());

/** Commands whose first argument names a subcommand (`keys list`); the others take a value (`backup FILE`). */
const WITH_SUBCOMMANDS = new Set(["admin", "keys", "costs", "secrets", "service", "config"]);
/** Global flags some commands do nothing with: `--host`/`--port` only matter to a server. */
const LISTEN_COMMANDS = new Set(["serve", "dev", "config check"]);

/** A flag given to a command it does nothing for is an error, not silently ignored. */
function checkFlagScope(values: Record<string, unknown>, command: string, sub: string | undefined): void {
  const name = WITH_SUBCOMMANDS.has(command) && sub ? `${command} ${sub}` : command;
  for (const flag of ["host", "port"]) {
    if (values[flag] !== undefined && !LISTEN_COMMANDS.has(name)) throw new UsageError(`--${flag} does not apply to '${name}' (it only sets where a server listens)`);
  }
  if (values["data-dir"] !== undefined && command === "service") {
    throw new UsageError(`--data-dir does not apply to '${name}': the unit keeps its data in the service's state directory (LLM_PROXY_DATA_DIR=%S/llm-proxy)`);
  }
  const allowed = COMMAND_FLAGS[name] ?? [];
  for (const flag of Object.keys(values)) {
    if (values[flag] !== undefined && SCOPED_FLAGS.has(flag) && !allowed.includes(flag)) throw new UsageError(`--${flag} does not apply to '${name}'`);
  }
}

function configure(flags: ConfigFlags, io: CliIO): { config: Config; logger: Logger } {
  const config = loadConfig({ flags, env: io.env });
  const json = config.logFormat === "auto" ? undefined : config.logFormat === "json";
  const logger = createLogger({ level: config.logLevel, json, sink: (line) => io.err(line + "\n") });
  return { config, logger };
}

/** Serves until SIGTERM/SIGINT, then stops gracefully (a second signal exits at once). */
function untilSignal(running: RunningServer, logger: Logger, io: CliIO): Promise<number> {
  return new Promise<number>((resolve) => {
    const onSignal = io.onSignal ?? defaultIO.onSignal!;
    let signals = 0;
    onSignal(["SIGTERM", "SIGINT"], (signal) => {
      if (++signals > 1) {
        logger.warn("second signal: exiting now", { signal });
        resolve(1);
        return;
      }
      running.stop(signal).then(() => resolve(0), () => resolve(1));
    });
  });
}

/** Runs one CLI invocation and resolves with the process exit status. */
export async function main(args: string[], io: CliIO = defaultIO): Promise<number> {
  try {
    const { values, positionals } = parse(args);
    if (values.version) return io.out(`llm-proxy ${VERSION}\n`), 0;
    if (values.help || positionals[0] === "help") return io.out(HELP), 0;
    const flags: ConfigFlags = {
      config: values.config,
      host: values.host,
      port: values.port,
      "data-dir": values["data-dir"],
      "log-level": values["log-level"],
    };
    const [command = "serve", sub, ...rest] = positionals;
    checkFlagScope(values, command, sub);
    const only = (n: number) => {
      if (positionals.length > n) throw new UsageError(`unexpected argument '${positionals[n]}' for '${command}'`);
    };

    switch (command) {
      case "serve": {
        only(1);
        const { config, logger } = configure(flags, io);
        const running = await startServer(config, logger);
        return await untilSignal(running, logger, io);
      }
      case "dev": {
        only(1);
        const { running, logger } = await startDev(flags, io, configure);
        return await untilSignal(running, logger, io);
      }
      case "migrate": {
        only(1);
        const { config, logger } = configure(flags, io);
        const handle = openDatabase(path.join(config.dataDir, DB_FILE));
        try {
          const report = runMigrations(handle);
          logger.info(report.applied ? "migrations applied" : "database is up to date", {
            applied: report.applied,
            known: report.known,
            backup: report.backup,
          });
        } finally {
          handle.close();
        }
        return 0;
      }
      case "config": {
        if (sub !== "check") throw new UsageError(`unknown command 'config ${sub ?? ""}'; did you mean 'config check'?`);
        only(2);
        const { config } = configure(flags, io);
        const key = loadEncryptionKey({
          literal: config.encryptionKey,
          file: config.encryptionKeyFile,
          dataDir: config.dataDir,
          generate: false,
        });
        const keySource = key ? `set (32 bytes, from ${key.source})` : "not set (generated into the data directory on first start)";
        const effective = describeConfig(config, keySource);
        const width = Math.max(...Object.keys(effective).map((k) => k.length));
        io.out("configuration is valid\n");
        for (const [k, v] of Object.entries(effective)) {
          const src = config.origin[k] ? `  (${config.origin[k]})` : "";
          io.out(`  ${k.padEnd(width)}  ${String(v)}${src}\n`);
        }
        return 0;
      }
      case "backup": {
        if (!sub) throw new UsageError("backup needs a target file: llm-proxy backup FILE");
        only(2);
        const { config, logger } = configure(flags, io);
        const source = path.join(config.dataDir, DB_FILE);
        const handle = openDatabase(source, { readonly: true });
        try {
          backupDatabase(handle.sqlite, sub);
        } finally {
          handle.close();
        }
        logger.info("backup written", { file: path.resolve(sub) });
        io.out(`${path.resolve(sub)}\n`);
        return 0;
      }
      case "admin": {
        if (sub !== "create") throw new UsageError(`unknown command 'admin ${sub ?? ""}'; use 'admin create --username NAME --password-stdin'`);
        only(2);
        const username = values.username?.trim();
        if (!username) throw new UsageError("admin create needs --username NAME");
        if (!values["password-stdin"]) {
          // Never on the command line: argv is visible to every user of the machine (ps, /proc).
          throw new UsageError("admin create reads the password from standard input: add --password-stdin, e.g. printf '%s' \"$PASSWORD\" | llm-proxy admin create --username NAME --password-stdin");
        }
        const role = (values.role ?? "admin") as Role;
        if (!ROLES.includes(role)) throw new UsageError("--role must be admin or viewer");
        const { config } = configure(flags, io);
        const password = (await (io.stdin ?? defaultIO.stdin!)()).replace(/\r?\n$/, "");
        const handle = openDatabase(path.join(config.dataDir, DB_FILE));
        try {
          runMigrations(handle);
          let row;
          try {
            row = await new Users(handle.db, bcryptHasher()).create({ username, password, role });
          } catch (e) {
            if (!(e instanceof ClientError)) throw e;
            io.err(`error: ${e.message}\n`);
            return e.status === 409 ? 1 : 2;
          }
          deleteSetupTokens(handle.db); // a pending setup link is useless (and closed) once a user exists
          new AuditLog(handle.db).record({ userId: null, username: null, ip: null }, "user.create", `user:${row.id}`, { username: row.username, role: row.role, via: "cli" });
          io.out(`created ${row.role} '${row.username}' (${row.id})\n`);
          return 0;
        } finally {
          handle.close();
        }
      }
      case "keys": {
        const { config } = configure(flags, io);
        const handle = openDatabase(path.join(config.dataDir, DB_FILE));
        try {
          runMigrations(handle);
          if (sub === "create") {
            only(2);
            const name = values.name?.trim();
            if (!name) throw new UsageError("keys create needs --name NAME");
            const { key, row } = createClientKey(handle.db, name);
            io.out(`created client key ${row.id} (${row.name}); it is shown only now:\n${key}\n`);
            return 0;
          }
          if (sub === "list") {
            only(2);
            const rows = listClientKeys(handle.db);
            if (values.json) {
              for (const r of rows) {
                io.out(JSON.stringify({ id: r.id, name: r.name, prefix: r.prefix, created_at: new Date(r.createdAt).toISOString(), revoked_at: r.revokedAt ? new Date(r.revokedAt).toISOString() : null }) + "\n");
              }
              return 0;
            }
            if (!rows.length) return io.out("no client keys; create one with: llm-proxy keys create --name NAME\n"), 0;
            io.out(`${"ID".padEnd(22)}${"NAME".padEnd(24)}${"PREFIX".padEnd(14)}${"CREATED".padEnd(22)}STATUS\n`);
            for (const r of rows) {
              const status = r.revokedAt ? `revoked ${new Date(r.revokedAt).toISOString().slice(0, 19)}Z` : "active";
              io.out(`${r.id.padEnd(22)}${r.name.slice(0, 23).padEnd(24)}${(r.prefix + "…").padEnd(14)}${new Date(r.createdAt).toISOString().slice(0, 19).padEnd(22)}${status}\n`);
            }
            return 0;
          }
          if (sub === "revoke") {
            const id = positionals[2];
            if (!id) throw new UsageError("keys revoke needs a key id (see 'llm-proxy keys list')");
            only(3);
            if (!revokeClientKey(handle.db, id)) {
              io.err(`error: no active client key with id '${id}'\n`);
              return 1;
            }
            io.out(`revoked ${id}\n`);
            return 0;
          }
          throw new UsageError(`unknown command 'keys ${sub ?? ""}'; use 'keys create', 'keys list' or 'keys revoke'`);
        } finally {
          handle.close();
        }
      }
      case "requests": {
        only(1);
        const { config } = configure(flags, io);
        let since: number | undefined;
        try {
          since = values.since ? parseSince(values.since) : undefined;
        } catch (e) {
          throw new UsageError(`--since: ${(e as Error).message}`);
        }
        const limit = values.limit ? Number(values.limit) : 50;
        if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError("--limit must be an integer from 1 to 10000");
        const handle = openDatabase(path.join(config.dataDir, DB_FILE));
        try {
          runMigrations(handle);
          const store = new RequestLogStore(handle.sqlite);
          const rows: RequestRow[] = [];
          let cursor: string | undefined;
          while (rows.length < limit) {
            const page = store.list({ since, cursor, project: values.project, limit: Math.min(1000, limit - rows.length) });
            rows.push(...page.rows);
            if (!page.nextCursor) break;
            cursor = page.nextCursor;
          }
          if (values.json) {
            for (const r of rows) io.out(JSON.stringify(requestJson(r)) + "\n");
            return 0;
          }
          if (!rows.length) {
            const filtered = [since !== undefined && "in that period", values.project !== undefined && `for project '${values.project}'`].filter(Boolean).join(" ");
            io.out(`no requests logged${filtered ? " " + filtered : ""}` + (config.requestLog.enabled ? "" : " (the request log is off: [request_log] enabled = false)") + "\n");
            return 0;
          }
          io.out(formatRequestTable(rows));
          if (rows.length === limit) io.out(`(the newest ${limit}; --limit N or --since for more)\n`);
          return 0;
        } finally {
          handle.close();
        }
      }
      case "costs": {
        if (sub !== "recompute") throw new UsageError("unknown command; use 'costs recompute --since DATE'");
        only(2);
        if (!values.since) throw new UsageError("costs recompute needs --since DURATION|DATE");
        let since: number;
        try {
          since = parseSince(values.since);
        } catch (e) {
          throw new UsageError(`--since: ${(e as Error).message}`);
        }
        const { config } = configure(flags, io);
        const pricing = createPricingSource({
          source: config.pricing.source,
          cacheFile: defaultCacheFile(config.dataDir),
          embedded: EMBEDDED_SNAPSHOT ?? undefined,
          overrides: config.pricing.overrides,
        });
        const pricingProviders = new Map(config.providers.map((p) => [p.id, p.pricingProvider]));
        await pricing.refresh(); // the newest prices if the source answers; else cache or embedded
        const handle = openDatabase(path.join(config.dataDir, DB_FILE));
        try {
          runMigrations(handle);
          const report = recomputeCosts(new RequestLogStore(handle.sqlite), createPricer(() => pricing.current(), (id) => pricingProviders.get(id)), since);
          io.out(
            `scanned ${report.scanned} rows; re-priced ${report.changed} (${report.newlyPriced} newly priced); ` +
              `${report.unpriced} still unpriced; total change ${picoToUsd(report.deltaPico)!.toFixed(6)} USD\n`,
          );
          return 0;
        } finally {
          handle.close();
        }
      }
      case "secrets": {
        if (sub !== "rotate") throw new UsageError("unknown command; use 'secrets rotate --new-key-file PATH'");
        only(2);
        const file = values["new-key-file"];
        if (!file) throw new UsageError("secrets rotate needs --new-key-file PATH (32 bytes as hex or base64; e.g. openssl rand -hex 32 > PATH)");
        const { config } = configure(flags, io);
        const current = loadEncryptionKey({ literal: config.encryptionKey, file: config.encryptionKeyFile, dataDir: config.dataDir, generate: false });
        if (!current) throw new UsageError("there is no current encryption key to rotate from");
        let newKey: Buffer;
        try {
          newKey = decodeKey(fs.readFileSync(file, "utf8"), `new key file ${file}`);
        } catch (e) {
          throw new KeyError((e as Error).message);
        }
        if (newKey.equals(current.key)) throw new UsageError("the new key is the same as the current one");
        const handle = openDatabase(path.join(config.dataDir, DB_FILE));
        let rotated: number;
        try {
          runMigrations(handle);
          rotated = rotateProviderSecrets(handle.db, current.key, newKey);
        } finally {
          handle.close();
        }
        io.out(`re-encrypted the keys of ${rotated} stored provider(s) under the new key\n`);
        const generated = path.join(config.dataDir, GENERATED_KEY_FILE);
        if (current.source.startsWith(`file ${generated}`)) {
          const backup = `${generated}.old-${new Date().toISOString().replace(/[:.]/g, "-")}`;
          fs.renameSync(generated, backup);
          fs.writeFileSync(generated, newKey.toString("hex") + "\n", { mode: 0o600 });
          io.out(`replaced ${generated} (old key kept as ${backup}; delete it once you have checked)\n`);
        } else {
          io.out(`now start llm-proxy with the new key (update ${current.source.startsWith("file") ? "the key file" : "LLM_PROXY_ENCRYPTION_KEY"})\n`);
        }
        return 0;
      }
      case "service": {
        only(2);
        const { config } = configure(flags, io);
        const options = { user: !!values.user, binary: process.execPath, graceMs: config.shutdownGraceMs };
        if (sub === "install") {
          if (values.print) {
            for (const n of binaryNotes(options)) io.err(`note: ${n}\n`);
            return io.out(renderUnit(options)), 0;
          }
          if (!options.user && process.getuid?.() !== 0) {
            throw new UsageError("'service install' needs root (or use --user, or --print to see the unit)");
          }
          const result = installService(options);
          for (const f of result.created) io.out(`wrote ${f}\n`);
          for (const n of result.notes) io.out(`note: ${n}\n`);
          const ctl = options.user ? "systemctl --user" : "systemctl";
          io.out(`next: ${ctl} daemon-reload && ${ctl} enable --now llm-proxy\n`);
          return 0;
        }
        if (sub === "uninstall") {
          const ctl = options.user ? "systemctl --user" : "systemctl";
          const result = uninstallService(options);
          io.out(result.removed ? `removed ${result.unitPath}\n` : `no unit at ${result.unitPath}\n`);
          io.out(`stop it first if running: ${ctl} disable --now llm-proxy && ${ctl} daemon-reload (configuration and data are kept)\n`);
          return 0;
        }
        throw new UsageError(`unknown command 'service ${sub ?? ""}'; use 'service install' or 'service uninstall'`);
      }
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\nRun 'llm-proxy --help' for usage.\n`);
      return 2;
    }
    if (e instanceof ConfigError || e instanceof KeyError) {
      io.err(`error: ${e.message}\n`);
      return 2;
    }
    if (e instanceof SchemaTooNewError) {
      io.err(`error: ${e.message}\n`);
      return 1;
    }
    const message = (e as Error).message ?? String(e);
    const code = (e as NodeJS.ErrnoException).code;
    // Most of these are the data directory (it is created and written by every command but help).
    const hint =
      code === "EACCES" || code === "EPERM" || code === "EROFS" || /readonly database/.test(message)
        ? "\nThe data directory must be writable by this user: choose one with --data-dir or LLM_PROXY_DATA_DIR.\n"
        : "\n";
    io.err(`error: ${message}${hint}`);
    return 1;
  }
}
