import { render } from "preact";
import { effect } from "@preact/signals";
import { App } from "./app.tsx";
import { interceptLinks } from "./lib/router.ts";
import { applyTheme } from "./lib/state.ts";

// The dashboard's entry point (bundled by Bun from index.html; no inline code: the page has a strict CSP).
effect(applyTheme);
const root = document.getElementById("app")!;
interceptLinks(root);
render(<App />, root);
