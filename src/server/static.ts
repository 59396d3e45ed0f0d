import path from "node:path";
import { IS_COMPILED, STATIC_DIR } from "../paths.ts";

/**
 * The embedded web assets (static/), served from memory with a strong ETag, 304s and gzip.
 * Compiled: read from Bun.embeddedFiles (build.ts embeds ./static). From source: read the folder,
 * so `bun run`, `bun test` and the binary serve the same bytes the same way (BUN-NOTES §1).
 */
export type StaticAsset = {
  /** URL path, e.g. "/status.js" ("/index.html" is also served at "/"). */
  url: string;
  body: Uint8Array<ArrayBuffer>;
  gzip?: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
};

const COMPRESSIBLE = /^(text\/|application\/(javascript|json|xml)|image\/svg)/;

async function listFiles(): Promise<Array<{ rel: string; blob: Blob }>> {
  if (IS_COMPILED) {
    return Bun.embeddedFiles
      .filter((b) => (b as Blob & { name: string }).name.startsWith("static/"))
      .map((b) => ({ rel: (b as Blob & { name: string }).name.slice("static/".length), blob: b }));
  }
  const rels = await Array.fromAsync(new Bun.Glob("**/*").scan({ cwd: STATIC_DIR, onlyFiles: true }));
  return rels.map((rel) => ({ rel, blob: Bun.file(path.join(STATIC_DIR, rel)) }));
}

/** Loads every asset once (about a millisecond for a handful of files). */
export async function loadStaticAssets(): Promise<Map<string, StaticAsset>> {
  const assets = new Map<string, StaticAsset>();
  for (const { rel, blob } of await listFiles()) {
    const body = new Uint8Array(await blob.arrayBuffer());
    const type = blob.type || "application/octet-stream";
    const asset: StaticAsset = {
      url: "/" + rel.split(path.sep).join("/"),
      body,
      type,
      etag: `"${Bun.hash(body).toString(36)}"`,
      gzip: COMPRESSIBLE.test(type) && body.byteLength > 1024 ? Bun.gzipSync(body) : undefined,
    };
    assets.set(asset.url, asset);
  }
  return assets;
}

/** Answers one asset request (If-None-Match → 304, Accept-Encoding gzip → compressed). */
export function serveAsset(asset: StaticAsset, request: Request, extraHeaders: Record<string, string>): Response {
  const headers: Record<string, string> = {
    ...extraHeaders,
    "content-type": asset.type,
    etag: asset.etag,
    // Assets are not content-hashed, so revalidate every time; the ETag makes that a 304.
    "cache-control": "no-cache",
    vary: "accept-encoding",
  };
  if (request.headers.get("if-none-match") === asset.etag) return new Response(null, { status: 304, headers });
  if (asset.gzip && /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "")) {
    return new Response(asset.gzip, { headers: { ...headers, "content-encoding": "gzip" } });
  }
  return new Response(asset.body, { headers });
}
