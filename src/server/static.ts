import path from "node:path";
import { IS_COMPILED, STATIC_DIR } from "../paths.ts";

/**
 * The dashboard: `static/index.html` and the TypeScript/CSS it imports, bundled by Bun
 * (`Bun.build` with the HTML file as entry point) and served from memory with a strong ETag,
 * 304s, gzip and our security headers (which Bun's native HTML routes would not let us add).
 * The compiled binary embeds the bundle build.ts wrote to dist/dashboard/; from source the bundle
 * is built in memory on first use, so `bun run` and `bun test` serve the same thing.
 */
export type StaticAsset = {
  /** URL path, e.g. "/assets/index-6qcveh71.js"; the page itself is "/index.html". */
  url: string;
  body: Uint8Array<ArrayBuffer>;
  gzip?: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
  /** Content-hashed files can be cached for a year; the page must be revalidated. */
  immutable: boolean;
};

const COMPRESSIBLE = /^(text\/|application\/(javascript|json|xml)|image\/svg)/;
/** Where build.ts writes the bundle (and where the binary finds it embedded). */
export const DASHBOARD_BUILD_DIR = "dist/dashboard";

/** Bundles static/index.html and everything it imports (minified, content-hashed names). */
export async function bundleDashboard(): Promise<Array<{ rel: string; blob: Blob }>> {
  const result = await Bun.build({
    entrypoints: [path.join(STATIC_DIR, "index.html")],
    target: "browser",
    minify: true,
    // Pages and uPlot load on demand (dynamic imports become their own chunks).
    splitting: true,
    publicPath: "/",
    naming: { entry: "[name].[ext]", chunk: "assets/[name]-[hash].[ext]", asset: "assets/[name]-[hash].[ext]" },
    define: { "process.env.NODE_ENV": '"production"' },
  });
  if (!result.success) throw new Error(`dashboard bundle failed: ${result.logs.map(String).join("\n")}`);
  return result.outputs.map((o) => ({ rel: o.path.replace(/^\.\//, ""), blob: o }));
}

async function listFiles(): Promise<Array<{ rel: string; blob: Blob }>> {
  if (IS_COMPILED) {
    // compile.assets keeps only the folder's own name: dist/dashboard/x → "dashboard/x".
    const prefix = path.basename(DASHBOARD_BUILD_DIR) + "/";
    return Bun.embeddedFiles
      .filter((b) => (b as Blob & { name: string }).name.startsWith(prefix))
      .map((b) => ({ rel: (b as Blob & { name: string }).name.slice(prefix.length), blob: b }));
  }
  return bundleDashboard();
}

function typeOf(rel: string, blob: Blob): string {
  if (blob.type && blob.type !== "application/octet-stream") return blob.type;
  return Bun.file(rel).type || "application/octet-stream";
}

/** Loads (or bundles) every asset once. */
export async function loadStaticAssets(): Promise<Map<string, StaticAsset>> {
  const assets = new Map<string, StaticAsset>();
  for (const { rel, blob } of await listFiles()) {
    const body = new Uint8Array(await blob.arrayBuffer());
    const type = typeOf(rel, blob);
    const url = "/" + rel.split(path.sep).join("/");
    assets.set(url, {
      url,
      body,
      type,
      etag: `"${Bun.hash(body).toString(36)}"`,
      gzip: COMPRESSIBLE.test(type) && body.byteLength > 1024 ? Bun.gzipSync(body) : undefined,
      immutable: url.startsWith("/assets/"),
    });
  }
  return assets;
}

/** Loads the assets on first use and keeps them (building from source takes ~0.2 s once). */
export function lazyStaticAssets(): () => Promise<Map<string, StaticAsset>> {
  let loading: Promise<Map<string, StaticAsset>> | undefined;
  return () => (loading ??= loadStaticAssets().catch((e) => {
    loading = undefined;
    throw e;
  }));
}

/** Answers one asset request (If-None-Match → 304, Accept-Encoding gzip → compressed). */
export function serveAsset(asset: StaticAsset, request: Request, extraHeaders: Record<string, string>): Response {
  const headers: Record<string, string> = {
    ...extraHeaders,
    "content-type": asset.type,
    etag: asset.etag,
    "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    vary: "accept-encoding",
  };
  if (request.headers.get("if-none-match") === asset.etag) return new Response(null, { status: 304, headers });
  if (asset.gzip && /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "")) {
    return new Response(asset.gzip, { headers: { ...headers, "content-encoding": "gzip" } });
  }
  return new Response(asset.body, { headers });
}
