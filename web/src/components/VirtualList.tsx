import { ComponentChildren, VNode } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';

/**
 * Variable-height virtualized list: only rows intersecting the viewport (plus
 * overscan) are in the DOM. Row heights start from an estimate and are measured
 * once rendered (and re-measured on resize, e.g. when a result table expands).
 */
export interface VirtualListProps<T> {
  items: T[];
  itemKey: (item: T) => string | number;
  estimate: number;
  renderItem: (item: T, index: number) => VNode;
  /** Called with the last rendered index after each render/scroll. */
  onRange?: (first: number, last: number) => void;
  /** Scroll so that this index is at the top (applied once per distinct value). */
  scrollToIndex?: number | null;
  footer?: ComponentChildren;
  overscanPx?: number;
  class?: string;
  label: string;
  testId?: string;
}

export function VirtualList<T>(props: VirtualListProps<T>) {
  const { items, itemKey, estimate, renderItem, onRange, scrollToIndex, footer, overscanPx = 600 } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string | number, number>());
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [version, setVersion] = useState(0);
  const appliedScroll = useRef<number | null>(null);
  const ro = useRef<ResizeObserver | null>(null);

  const offsets = useMemo(() => {
    const off = new Float64Array(items.length + 1);
    for (let i = 0; i < items.length; i++) {
      off[i + 1] = off[i] + (heights.current.get(itemKey(items[i])) ?? estimate);
    }
    return off;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [items, version, estimate]);
  const total = offsets[items.length];

  // first index whose bottom is below (scrollTop - overscan)
  const lo = Math.max(0, scrollTop - overscanPx);
  const hi = scrollTop + viewport + overscanPx;
  let first = lowerBound(offsets, lo);
  first = Math.max(0, Math.min(items.length - 1, first - 1));
  let last = first;
  while (last < items.length - 1 && offsets[last + 1] < hi) last++;

  const measure = (el: Element) => {
    const key = (el as HTMLElement).dataset.vkey;
    if (key == null || !el.isConnected) return 0;
    const h = (el as HTMLElement).offsetHeight;
    if (h <= 0) return 0;
    const k = keyOf(key, items, itemKey);
    const prev = heights.current.get(k) ?? estimate;
    if (Math.abs(prev - h) < 0.5) return 0;
    heights.current.set(k, h);
    // keep the content under the viewport still when rows above it change size
    const idx = Number((el as HTMLElement).dataset.vindex);
    const sc = scroller.current;
    if (sc && offsets[idx] + prev <= sc.scrollTop) sc.scrollTop += h - prev;
    return 1;
  };

  useEffect(() => {
    ro.current = new ResizeObserver((entries) => {
      let changed = 0;
      for (const e of entries) changed += measure(e.target);
      if (changed) setVersion((v) => v + 1);
    });
    return () => ro.current?.disconnect();
  }, []);

  // measure freshly rendered rows synchronously to avoid visible jumps
  useLayoutEffect(() => {
    const sc = scroller.current;
    if (!sc) return;
    let changed = 0;
    sc.querySelectorAll(':scope > .vl-inner > .vl-row').forEach((el) => {
      changed += measure(el);
      ro.current?.observe(el);
    });
    if (changed) setVersion((v) => v + 1);
  });

  useLayoutEffect(() => {
    const sc = scroller.current;
    if (!sc) return;
    const update = () => setViewport(sc.clientHeight || 600);
    update();
    const r = new ResizeObserver(update);
    r.observe(sc);
    return () => r.disconnect();
  }, []);

  useEffect(() => {
    if (items.length) onRange?.(first, last);
  }, [first, last, items.length]);

  useLayoutEffect(() => {
    if (scrollToIndex == null || scrollToIndex < 0 || scrollToIndex >= items.length) return;
    if (appliedScroll.current === scrollToIndex) return;
    appliedScroll.current = scrollToIndex;
    const sc = scroller.current;
    if (sc) {
      sc.scrollTop = offsets[scrollToIndex];
      setScrollTop(sc.scrollTop);
    }
  }, [scrollToIndex, items.length, offsets]);

  const rows: VNode[] = [];
  if (items.length) {
    for (let i = first; i <= last; i++) {
      const it = items[i];
      const k = itemKey(it);
      rows.push(
        <div
          key={k}
          class="vl-row"
          data-vkey={String(k)}
          data-vindex={i}
          role="listitem"
          aria-setsize={items.length}
          aria-posinset={i + 1}
          style={{ top: `${offsets[i]}px` }}
        >
          {renderItem(it, i)}
        </div>,
      );
    }
  }

  return (
    <div
      ref={scroller}
      class={`vl ${props.class ?? ''}`}
      data-testid={props.testId}
      data-total={items.length}
      role="list"
      aria-label={props.label}
      tabIndex={0}
      onScroll={(e) => setScrollTop((e.currentTarget as HTMLDivElement).scrollTop)}
    >
      <div class="vl-inner" style={{ height: `${total}px` }}>
        {rows}
      </div>
      {footer != null && <div class="vl-footer">{footer}</div>}
    </div>
  );
}

function lowerBound(arr: Float64Array, v: number): number {
  let lo = 0;
  let hi = arr.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function keyOf<T>(s: string, items: T[], itemKey: (t: T) => string | number): string | number {
  // keys are numbers (event seq) or strings; keep the original type
  if (items.length && typeof itemKey(items[0]) === 'number') return Number(s);
  return s;
}
