/**
 * Process logger: human-readable lines on a TTY, JSON lines otherwise (journald, files, pipes).
 * Fields whose names look like secrets are always replaced with "[redacted]", so a careless
 * `log.info("x", { apiKey })` cannot leak a key.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const SECRET_FIELD = /(pass(word)?|secret|token|api[_-]?keys?|authorization|cookie|encryption[_-]?key|^key$)/i;

export type LogFields = Record<string, unknown>;
export type LogSink = (line: string) => void;

export type Logger = {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  level: LogLevel;
};

/** Replaces the values of secret-looking fields; recurses into plain objects. */
export function redactFields(fields: LogFields, depth = 0): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_FIELD.test(k)) out[k] = "[redacted]";
    else if (v instanceof Error) out[k] = v.message;
    else if (v && typeof v === "object" && !Array.isArray(v) && depth < 3) out[k] = redactFields(v as LogFields, depth + 1);
    else out[k] = v;
  }
  return out;
}

function formatValue(v: unknown): string {
  if (typeof v === "string") return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (v === undefined) return "undefined";
  return JSON.stringify(v);
}

const COLORS: Record<LogLevel, string> = { debug: "\x1b[90m", info: "\x1b[36m", warn: "\x1b[33m", error: "\x1b[31m" };

export function createLogger(options: { level?: LogLevel; json?: boolean; sink?: LogSink } = {}): Logger {
  const json = options.json ?? !process.stderr.isTTY;
  const sink: LogSink = options.sink ?? ((line) => process.stderr.write(line + "\n"));
  const logger: Logger = {
    level: options.level ?? "info",
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
  function write(level: LogLevel, msg: string, fields?: LogFields) {
    if (RANK[level] < RANK[logger.level]) return;
    const safe = fields ? redactFields(fields) : {};
    const now = new Date();
    if (json) {
      sink(JSON.stringify({ time: now.toISOString(), level, msg, ...safe }));
    } else {
      const kv = Object.entries(safe).map(([k, v]) => `${k}=${formatValue(v)}`).join(" ");
      const ts = now.toISOString().slice(11, 23);
      sink(`\x1b[90m${ts}\x1b[0m ${COLORS[level]}${level.toUpperCase().padEnd(5)}\x1b[0m ${msg}${kv ? " " + kv : ""}`);
    }
  }
  return logger;
}
