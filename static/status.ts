// Status page: polls /healthz and /readyz every 5 s and shows what they say.
const $ = (id: string) => document.getElementById(id)!;

function pill(el: HTMLElement, text: string, ok: boolean) {
  el.textContent = text;
  el.className = "pill " + (ok ? "ok" : "bad");
}

function formatUptime(s: number) {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s";
}

async function getJSON(url: string) {
  const res = await fetch(url, { cache: "no-store" });
  return { ok: res.ok, body: await res.json() };
}

async function refresh() {
  try {
    const health = await getJSON("/healthz");
    pill($("health"), health.ok ? "alive" : "unhealthy", health.ok);
    $("version").textContent = "version " + health.body.version;
    $("uptime").textContent = formatUptime(health.body.uptime_seconds);
  } catch {
    pill($("health"), "unreachable", false);
  }
  try {
    const ready = await getJSON("/readyz");
    pill($("database"), ready.body.database, ready.body.database === "ok");
    pill($("migrations"), ready.body.migrations, ready.body.migrations === "current");
  } catch {
    pill($("database"), "unknown", false);
    pill($("migrations"), "unknown", false);
  }
  $("checked").textContent = new Date().toLocaleTimeString();
}

refresh();
setInterval(refresh, 5000);
