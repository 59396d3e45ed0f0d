// Side-effect CSS imports are bundled by Bun (the CSS ends up in the page's stylesheet).
declare module "*.css";
