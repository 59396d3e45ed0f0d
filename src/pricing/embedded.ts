import { readSnapshotText } from "./embedded.macro.ts" with { type: "macro" };

/**
 * The models.dev api.json embedded at build time, as text, or null.
 *
 * How it works: `readSnapshotText()` is a Bun macro, so the bundler replaces the call with the
 * contents of `src/pricing/snapshot/models-dev.json` when that file exists, and with `null` when it
 * does not. `build.ts` may fetch https://models.dev/api.json into that path before `Bun.build`
 * (see `writeSnapshot` in source.ts); when it cannot, the binary simply has no embedded copy and
 * starts from the cache file or an empty registry. Nothing in the repo needs the file to exist.
 */
export const EMBEDDED_SNAPSHOT: string | null = readSnapshotText();
