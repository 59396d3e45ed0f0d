import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * systemd integration: `llm-proxy service install [--user] [--print]` and `service uninstall`.
 * The system unit runs under a dynamic user with a private state directory, gets the encryption
 * key through LoadCredential (never an environment variable), and is sandboxed.
 */
export type ServiceOptions = {
  user: boolean;
  binary: string;
  /** Overrides for tests; default to the real system locations. */
  unitDir?: string;
  configDir?: string;
  graceMs?: number;
};

export const UNIT_NAME = "llm-proxy.service";

function dirs(o: ServiceOptions) {
  const home = os.homedir();
  return {
    unitDir: o.unitDir ?? (o.user ? path.join(home, ".config/systemd/user") : "/etc/systemd/system"),
    configDir: o.configDir ?? (o.user ? path.join(home, ".config/llm-proxy") : "/etc/llm-proxy"),
  };
}

/** The unit file text. */
export function renderUnit(o: ServiceOptions): string {
  const { configDir } = dirs(o);
  const stopSec = Math.ceil((o.graceMs ?? 30_000) / 1000) + 15;
  const common = [
    "[Unit]",
    "Description=llm-proxy LLM gateway",
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${o.binary} serve`,
    "StateDirectory=llm-proxy",
    "StateDirectoryMode=0700",
    "Environment=LLM_PROXY_DATA_DIR=%S/llm-proxy",
    `Environment=LLM_PROXY_CONFIG=${path.join(configDir, "llm-proxy.toml")}`,
    "Environment=LLM_PROXY_LOG_FORMAT=json",
    "Restart=on-failure",
    "RestartSec=2s",
    "KillSignal=SIGTERM",
    `TimeoutStopSec=${stopSec}`,
    "UMask=0077",
    "NoNewPrivileges=yes",
  ];
  if (o.user) {
    // User managers cannot apply most sandboxing without user namespaces; the key lives in the
    // state directory (generated on first start, mode 0600).
    return [...common, "", "[Install]", "WantedBy=default.target", ""].join("\n");
  }
  return [
    ...common,
    "DynamicUser=yes",
    `LoadCredential=encryption-key:${path.join(configDir, "encryption.key")}`,
    "Environment=LLM_PROXY_ENCRYPTION_KEY_FILE=%d/encryption-key",
    "ProtectSystem=strict",
    "ProtectHome=read-only",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "SystemCallArchitectures=native",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "# MemoryDenyWriteExecute is left off on purpose: the JavaScript JIT needs writable code pages.",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

const CONFIG_TEMPLATE = `# llm-proxy configuration. Environment variables (LLM_PROXY_*) and flags override these values.
# host = "127.0.0.1"   # use "0.0.0.0" to serve other machines (put TLS in front)
# port = 4141
# log_level = "info"
# shutdown_grace_ms = 30000
`;

export type InstallResult = { unitPath: string; created: string[]; notes: string[] };

/** Where the binary is that the service may not be able to run it from (shown by install and --print). */
export function binaryNotes(o: ServiceOptions): string[] {
  const notes: string[] = [];
  if (!o.user && /^\/(root|home)\//.test(o.binary)) {
    notes.push(`${o.binary} is under a home directory; the service runs as a dynamic user and may not read it. ` +
      `Copy the binary to /usr/local/bin and run 'service install' from there.`);
  }
  if (/^\/(tmp|var\/tmp)\//.test(o.binary)) {
    notes.push(`${o.binary} is under ${o.binary.startsWith("/tmp/") ? "/tmp" : "/var/tmp"}, which the unit hides (PrivateTmp=yes) and the system may clean. ` +
      `Copy the binary to /usr/local/bin (or ~/.local/bin for --user) and run 'service install' from there.`);
  }
  return notes;
}

/** Writes the unit (and, for system installs, the key and config files if missing). */
export function installService(o: ServiceOptions): InstallResult {
  const { unitDir, configDir } = dirs(o);
  const created: string[] = [];
  const notes: string[] = [];
  fs.mkdirSync(unitDir, { recursive: true });
  fs.mkdirSync(configDir, { recursive: true, mode: 0o700 });
  const unitPath = path.join(unitDir, UNIT_NAME);
  fs.writeFileSync(unitPath, renderUnit(o), { mode: 0o644 });
  created.push(unitPath);
  const configFile = path.join(configDir, "llm-proxy.toml");
  if (!fs.existsSync(configFile)) {
    fs.writeFileSync(configFile, CONFIG_TEMPLATE, { mode: 0o644 });
    created.push(configFile);
  }
  if (!o.user) {
    const keyFile = path.join(configDir, "encryption.key");
    if (!fs.existsSync(keyFile)) {
      fs.writeFileSync(keyFile, crypto.randomBytes(32).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
      created.push(keyFile);
      notes.push(`generated ${keyFile}: back it up; without it stored provider keys cannot be decrypted`);
    }
  }
  notes.push(...binaryNotes(o));
  return { unitPath, created, notes };
}

/** Removes the unit file; configuration, key and data are kept. */
export function uninstallService(o: ServiceOptions): { removed: boolean; unitPath: string } {
  const unitPath = path.join(dirs(o).unitDir, UNIT_NAME);
  if (!fs.existsSync(unitPath)) return { removed: false, unitPath };
  fs.rmSync(unitPath);
  return { removed: true, unitPath };
}
