#!/usr/bin/env bun
// Entry point: the CLI decides what to run (`serve` by default). argv[0] is "bun" and argv[1] the
// script (or /$bunfs/root/<name> in the compiled binary), so the arguments start at index 2.
import { main } from "./cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
process.exit();
