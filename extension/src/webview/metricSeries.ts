// One metric's points as the live chart draws them, plus the exact figures the table lists.
// Up to MAX_DRAWN_POINTS every point is drawn. Past that the series keeps fixed-size buckets of
// consecutive points and draws only each bucket's minimum and maximum (the "min-max" decimation
// line charts use), so spikes and dips survive; when the buckets fill up their size doubles and
// neighbours merge. Each new point costs O(1) and the chart receives only what changed (a vega
// changeset), except at the rare doublings. Pure code: the webview and the unit tests share it.
import type { MetricPoint, WireMetricPoint } from "./contract";

export const MAX_DRAWN_POINTS = 2000;

interface Bucket {
  size: number;
  min: MetricPoint;
  max: MetricPoint;
  last: MetricPoint;
}

/** What to remove from and insert into the chart's data so it shows `drawn()` again. */
export interface SeriesDelta {
  remove: MetricPoint[];
  insert: MetricPoint[];
  /** How many points the chart shows after applying it. */
  drawn: number;
}

export class MetricSeries {
  /** Every point received, non-finite values included. */
  count = 0;
  /** The point with the highest step (the latest one received among equal steps). */
  last: WireMetricPoint | undefined;
  min: number | undefined;
  max: number | undefined;

  private buckets: Bucket[] = [];
  private bucketSize = 1;
  /** The points the chart holds now, as of the last takeDelta(). */
  private committed = new Set<MetricPoint>();

  constructor(
    readonly key: string,
    private readonly maxDrawn = MAX_DRAWN_POINTS,
  ) {}

  push(point: WireMetricPoint): void {
    this.count += 1;
    if (this.last === undefined || point.step >= this.last.step) {
      this.last = point;
    }
    const value = point.value;
    if (value === null || !Number.isFinite(value)) {
      return; // a gap in the line; the table still shows it as the last value
    }
    this.min = this.min === undefined ? value : Math.min(this.min, value);
    this.max = this.max === undefined ? value : Math.max(this.max, value);

    const drawn: MetricPoint = { key: point.key, value, step: point.step, timestamp: point.timestamp };
    const open = this.buckets.at(-1);
    if (open !== undefined && open.size < this.bucketSize) {
      open.size += 1;
      if (value < open.min.value) {
        open.min = drawn;
      }
      if (value > open.max.value) {
        open.max = drawn;
      }
      open.last = drawn;
    } else {
      this.buckets.push({ size: 1, min: drawn, max: drawn, last: drawn });
    }
    if (this.drawnBound() > this.maxDrawn) {
      this.compact();
    }
  }

  /** True once the chart shows fewer points than were logged. */
  get downsampled(): boolean {
    return this.bucketSize > 1;
  }

  /** The points to draw: every bucket's min and max, and the newest point so the line reaches it. */
  drawn(): MetricPoint[] {
    const points: MetricPoint[] = [];
    for (const { min, max } of this.buckets) {
      points.push(min);
      if (max !== min) {
        points.push(max);
      }
    }
    const open = this.buckets.at(-1);
    if (open !== undefined && open.last !== open.min && open.last !== open.max) {
      points.push(open.last);
    }
    return points;
  }

  /** The change since the previous call; the caller applies it to the chart's data. */
  takeDelta(): SeriesDelta {
    const current = this.drawn();
    const next = new Set(current);
    const remove = [...this.committed].filter((point) => !next.has(point));
    const insert = current.filter((point) => !this.committed.has(point));
    this.committed = next;
    return { remove, insert, drawn: current.length };
  }

  /** The chart was rebuilt empty: the next delta inserts everything. */
  resetDelta(): void {
    this.committed = new Set();
  }

  private drawnBound(): number {
    // A full bucket draws at most two points (one when it holds one); the open one adds its last.
    return this.bucketSize === 1 ? this.buckets.length : this.buckets.length * 2 + 1;
  }

  private compact(): void {
    // Stop at three quarters of the limit so the next doubling is thousands of points away.
    while (this.drawnBound() > (this.maxDrawn * 3) / 4 && this.buckets.length > 1) {
      this.bucketSize *= 2;
      const merged: Bucket[] = [];
      for (let i = 0; i < this.buckets.length; i += 2) {
        const a = this.buckets[i];
        const b = this.buckets[i + 1];
        merged.push(
          b === undefined
            ? a
            : {
                size: a.size + b.size,
                min: b.min.value < a.min.value ? b.min : a.min,
                max: b.max.value > a.max.value ? b.max : a.max,
                last: b.last,
              },
        );
      }
      this.buckets = merged;
    }
  }
}
