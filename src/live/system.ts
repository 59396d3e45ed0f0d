import si from "systeminformation";

/**
 * Host and process metrics. systeminformation spawns processes for some calls (BUN-NOTES §6), so
 * the host figures are sampled only while someone watches (the System page / `metrics` topic) or
 * asks (/metrics), and cached: CPU and memory every ~2 s, disks and network every ~10 s.
 */
export type HostSnapshot = {
  at: number;
  cpu: { load_percent: number; cores: number } | null;
  memory: { total: number; used: number; available: number } | null;
  disks: Array<{ mount: string; size: number; used: number }> | null;
  network: Array<{ iface: string; rx_sec: number | null; tx_sec: number | null }> | null;
};

export type ProcessSnapshot = {
  rss: number;
  heap_used: number;
  uptime_seconds: number;
  event_loop_lag_ms: number;
};

export class SystemMonitor {
  private host: HostSnapshot = { at: 0, cpu: null, memory: null, disks: null, network: null };
  private slowAt = 0;
  private sampling: Promise<void> | undefined;
  private lagMs = 0;
  private lagTimer: ReturnType<typeof setInterval> | undefined;

  /** Starts the (cheap, in-process) event-loop lag probe. */
  start(): void {
    let expected = performance.now() + 500;
    this.lagTimer ??= setInterval(() => {
      const now = performance.now();
      this.lagMs = Math.max(0, now - expected);
      expected = now + 500;
    }, 500);
    this.lagTimer.unref?.();
  }

  stop(): void {
    clearInterval(this.lagTimer);
    this.lagTimer = undefined;
  }

  process(): ProcessSnapshot {
    const m = process.memoryUsage();
    return { rss: m.rss, heap_used: m.heapUsed, uptime_seconds: Math.round(process.uptime()), event_loop_lag_ms: Math.round(this.lagMs * 10) / 10 };
  }

  /** The latest host sample, refreshed in the background when older than `maxAgeMs`. */
  async hostSnapshot(maxAgeMs = 2000): Promise<HostSnapshot> {
    if (Date.now() - this.host.at > maxAgeMs) {
      this.sampling ??= this.sample().finally(() => (this.sampling = undefined));
      await this.sampling;
    }
    return this.host;
  }

  private async sample(): Promise<void> {
    const slow = Date.now() - this.slowAt > 10_000;
    const [load, mem, disks, net] = await Promise.all([
      si.currentLoad().catch(() => null),
      si.mem().catch(() => null),
      slow ? si.fsSize().catch(() => null) : Promise.resolve(undefined),
      slow ? si.networkStats("*").catch(() => null) : Promise.resolve(undefined),
    ]);
    this.host = {
      at: Date.now(),
      cpu: load ? { load_percent: Math.round(load.currentLoad * 10) / 10, cores: load.cpus?.length ?? 0 } : null,
      memory: mem ? { total: mem.total, used: mem.active, available: mem.available } : null,
      disks: disks === undefined ? this.host.disks : disks ? disks.map((d) => ({ mount: d.mount, size: d.size, used: d.used })) : null,
      network:
        net === undefined
          ? this.host.network
          : net
            ? net.map((n) => ({ iface: n.iface, rx_sec: n.rx_sec, tx_sec: n.tx_sec }))
            : null,
    };
    if (slow) this.slowAt = Date.now();
  }
}
