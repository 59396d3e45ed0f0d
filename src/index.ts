#!/usr/bin/env bun
// Entry point: the CLI decides what to run (`serve` by default). argv[0] is "bun" and argv[1] the
// script (or /$bunfs/root/<name> in the compiled binary), so the arguments start at index 2.
import { main } from "./cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
// Deliver everything written before exiting: process.exit() alone drops what a pipe's reader has
// not taken yet (`llm-proxy requests --json | slow-consumer` lost all but the first 64 KB).
await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => s.end(() => resolve()))));
process.exit();
