import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { useEffect, useRef } from "preact/hooks";
import { theme } from "../lib/state.ts";

/**
 * A uPlot time-series chart. `x` is in epoch milliseconds; each series has its own values (null =
 * gap). Colours come from the CSS custom properties `--chart-1` … `--chart-6` (and the theme's
 * text/grid colours), so the chart is rebuilt when the theme changes. The chart follows its
 * container's width.
 */
export type ChartSeries = {
  label: string;
  values: Array<number | null>;
  /** 1-6: which --chart-N colour. */
  color: number;
  fill?: boolean;
  dash?: boolean;
  /** Second y axis (right side) for a different unit. */
  right?: boolean;
  /** Bars instead of a line (amounts per time bucket). */
  bars?: boolean;
};

let measurer: CanvasRenderingContext2D | null | undefined;
function textWidth(text: string, font: string): number {
  measurer ??= document.createElement("canvas").getContext("2d");
  if (!measurer) return text.length * 7;
  measurer.font = font;
  return measurer.measureText(text).width;
}

export function Chart({
  x,
  series,
  height = 200,
  format = (v: number) => String(v),
  formatRight,
  range,
  compact: small,
  label,
}: {
  x: number[];
  series: ChartSeries[];
  height?: number;
  format?: (v: number) => string;
  formatRight?: (v: number) => string;
  /** x range in ms (e.g. the overview's from/to), so sparse data keeps the right time axis. */
  range?: [number, number];
  /** Sparkline style: no legend, light axes. */
  compact?: boolean;
  label: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const shape = series.map((s) => `${s.label}:${s.color}:${s.right ? 1 : 0}:${s.bars ? 1 : 0}`).join("|") + `|${height}|${small ? 1 : 0}|${theme.value}`;
  const data: uPlot.AlignedData = [x.map((t) => t / 1000), ...series.map((s) => s.values)] as uPlot.AlignedData;
  const rangeRef = useRef(range);
  rangeRef.current = range;

  // Build (or rebuild on a change of series, size or theme).
  useEffect(() => {
    const el = host.current!;
    const css = getComputedStyle(document.documentElement);
    const v = (name: string) => css.getPropertyValue(name).trim() || "#888";
    const color = (n: number) => v(`--chart-${n}`);
    const axisStroke = v("--muted");
    const grid = v("--grid");
    const font = `11px ${getComputedStyle(document.body).fontFamily}`;
    const hasRight = series.some((s) => s.right);
    const axis = (scale: string, fmt: (v: number) => string, side: 1 | 3 = 3): uPlot.Axis => ({
      scale,
      side,
      stroke: axisStroke,
      font,
      // As wide as the longest tick label (uPlot's fixed default clips "1.5 KB/s").
      size: (_u, values) => Math.ceil(Math.max(24, ...(values ?? []).map((s) => textWidth(String(s), font)))) + 12,
      gap: 4,
      grid: { show: side === 3, stroke: grid, width: 1 },
      ticks: { show: false },
      values: (_u, splits) => splits.map((s) => (s == null ? "" : fmt(s))),
    });
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: !small, live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      padding: [8, hasRight ? 4 : 12, small ? 4 : 0, 0],
      scales: {
        x: {
          time: true,
          range: (_u, min, max) => {
            const r = rangeRef.current;
            return r ? [r[0] / 1000, r[1] / 1000] : [min, max === min ? max + 1 : max];
          },
        },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
        ...(hasRight ? { r: { range: (_u: uPlot, _min: number, max: number) => [0, max > 0 ? max * 1.08 : 1] as uPlot.Range.MinMax } } : {}),
      },
      axes: [
        { show: !small, stroke: axisStroke, font, grid: { show: false }, ticks: { show: false }, size: 30, space: 80 },
        axis("y", format),
        ...(hasRight ? [axis("r", formatRight ?? format, 1)] : []),
      ],
      series: [
        { value: (_u, t) => (t == null ? "–" : new Date(t * 1000).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: small ? "2-digit" : undefined })) },
        ...series.map((s) => {
          const c = color(s.color);
          const fmt = s.right ? formatRight ?? format : format;
          return {
            label: s.label,
            scale: s.right ? "r" : "y",
            stroke: c,
            width: s.bars ? 0 : small ? 1.5 : 2,
            fill: s.bars ? `${c}d9` : s.fill ? `${c}26` : undefined,
            dash: s.dash ? [5, 4] : undefined,
            spanGaps: false,
            paths: s.bars ? uPlot.paths.bars!({ size: [0.7, 28], align: 0 }) : undefined,
            points: s.bars ? { show: false } : { show: (u: uPlot) => u.data[0].length < 40, size: 5, fill: c },
            value: (_u: uPlot, val: number | null) => (val == null ? "–" : fmt(val)),
          } satisfies uPlot.Series;
        }),
      ],
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = undefined;
    };
  }, [shape]);

  // New data for the same shape: just redraw.
  useEffect(() => {
    plot.current?.setData(data, true);
  });

  const empty = x.length === 0 || series.every((s) => s.values.every((v) => v == null));
  return (
    <figure class={`chart ${small ? "small" : ""}`} aria-label={label} data-points={x.length} data-series={series.length}>
      <div ref={host} class="chart-host" role="img" aria-label={`${label} chart`} />
      {empty && <div class="chart-empty">No data yet</div>}
    </figure>
  );
}
