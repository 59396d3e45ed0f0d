/**
 * Builds the single-file executable.
 *   bun run build          → dist/llm-proxy for this machine
 *   bun run build --all    → dist/llm-proxy-<os>-<arch>[.exe] for every release target + dist/SHA256SUMS
 * Flags (BUN-NOTES §0.1, §0.2, §8): NODE_ENV inlined as production, ESM + bytecode (3× faster
 * start), minified, linked source map embedded; static/ and drizzle/ embedded under /$bunfs/root.
 * `--no-bytecode` exists to measure the difference.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const TARGETS = [
  { target: "bun-linux-x64", name: "llm-proxy-linux-x64" },
  { target: "bun-linux-arm64", name: "llm-proxy-linux-arm64" },
  { target: "bun-darwin-x64", name: "llm-proxy-darwin-x64" },
  { target: "bun-darwin-arm64", name: "llm-proxy-darwin-arm64" },
  { target: "bun-windows-x64", name: "llm-proxy-windows-x64.exe" },
] as const;

const args = new Set(process.argv.slice(2));
const all = args.has("--all");
const bytecode = !args.has("--no-bytecode");
const outDir = path.resolve(import.meta.dir, "dist");
fs.mkdirSync(outDir, { recursive: true });

process.chdir(import.meta.dir); // compile.assets paths are kept relative to the build's cwd

// Embed a fresh models.dev pricing snapshot when the network allows (src/pricing/embedded.ts);
// offline the build goes on and the binary prices from its cache file once it has fetched one.
// LLM_PROXY_PRICING_SOURCE may name a local api.json instead of the live URL.
const { writeSnapshot } = await import("./src/pricing/source.ts");
const snapshot = await writeSnapshot({ source: process.env.LLM_PROXY_PRICING_SOURCE || undefined, timeoutMs: 10_000 });
console.log(snapshot ? "embedded a models.dev pricing snapshot" : "no models.dev pricing snapshot embedded (offline?)");

// The dashboard bundle (static/index.html and what it imports) is built once and embedded.
const { bundleDashboard, DASHBOARD_BUILD_DIR } = await import("./src/server/static.ts");
fs.rmSync(DASHBOARD_BUILD_DIR, { recursive: true, force: true });
let dashboardBytes = 0;
for (const { rel, blob } of await bundleDashboard()) {
  const file = path.join(DASHBOARD_BUILD_DIR, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const bytes = new Uint8Array(await blob.arrayBuffer());
  fs.writeFileSync(file, bytes);
  dashboardBytes += bytes.byteLength;
}
console.log(`bundled the dashboard into ${DASHBOARD_BUILD_DIR}: ${(dashboardBytes / 1024).toFixed(1)} KiB`);

async function build(target: string | undefined, outfile: string) {
  const started = performance.now();
  const result = await Bun.build({
    // The WAL checkpointer runs in a Worker, which must be an entrypoint of its own (BUN-NOTES §4).
    entrypoints: ["./src/index.ts", "./src/db/checkpoint-worker.ts"],
    compile: {
      ...(target ? { target: target as Bun.Build.CompileTarget } : {}),
      outfile,
      assets: [`./${DASHBOARD_BUILD_DIR}`, "./drizzle"],
      // The binary reads only its own configuration: no .env or bunfig.toml from whatever cwd it starts in.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
    define: { "process.env.NODE_ENV": '"production"' },
    format: "esm",
    minify: true,
    bytecode,
    sourcemap: "linked",
  });
  if (!result.success) {
    for (const m of result.logs) console.error(m);
    throw new Error(`build failed for ${target ?? "host"}`);
  }
  const size = fs.statSync(outfile).size;
  console.log(`built ${path.relative(process.cwd(), outfile)}  ${(size / 1e6).toFixed(1)} MB  ${Math.round(performance.now() - started)} ms`);
}

if (all) {
  const sums: string[] = [];
  for (const t of TARGETS) {
    const out = path.join(outDir, t.name);
    await build(t.target, out);
    const hash = crypto.createHash("sha256").update(fs.readFileSync(out)).digest("hex");
    sums.push(`${hash}  ${t.name}`);
  }
  fs.writeFileSync(path.join(outDir, "SHA256SUMS"), sums.join("\n") + "\n");
  console.log(`wrote ${path.relative(process.cwd(), path.join(outDir, "SHA256SUMS"))}`);
} else {
  await build(undefined, path.join(outDir, "llm-proxy"));
}
