// The demo's live timeline: requests of every open tab, the worker's refreshes and state
// changes, drawn as SVG from guardian events. Redraws wait for the next animation frame, so a
// burst of events costs one redraw.
import type { AuthStatus, GuardianEvent } from '../client/index.ts';
import { clockTime, formatDuration, idleGapMs, layoutTimeline, refreshLabel, stateLabel, type BarBox, type MarkerBox, type TextBox, type TimelineLayout } from './timeline-layout.ts';
import { TimelineModel, type TimelineEntry } from './timeline-model.ts';

const svgNamespace = 'http://www.w3.org/2000/svg';
/** How often a running refresh bar grows, in milliseconds. */
const runningRedrawMs = 100;

const colors = {
  attached: '#17803d',
  retried: '#b35c00',
  failed: '#b00020',
  refresh: '#7a3db8',
  idle: '#8a93a3',
  text: '#394150',
  grid: '#e3e6ec',
};

const styles = `
.timeline-head { display: flex; align-items: center; gap: .5rem; }
.timeline-head h2 { font-size: 1rem; margin: 0 auto 0 0; }
.timeline figure { margin: .3rem 0 0; }
.timeline figcaption, .timeline-summary { font-size: 13px; color: #5b6475; margin: .2rem 0; }
.timeline-chart { display: block; width: 100%; font: 11px system-ui, sans-serif; }
.timeline-legend { list-style: none; display: flex; flex-wrap: wrap; gap: .2rem 1rem; padding: 0; margin: .4rem 0 0; font-size: 13px; }
.timeline-legend svg { vertical-align: middle; margin-right: .3rem; }
`;

// Fills differ in pattern as well as colour, so outcomes stay apart without colour vision.
const patterns = `
<pattern id="timeline-stripes" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
  <rect width="4" height="4" fill="#f3c28f"/><rect width="2" height="4" fill="${colors.retried}"/>
</pattern>
<pattern id="timeline-crosshatch" width="4" height="4" patternUnits="userSpaceOnUse">
  <rect width="4" height="4" fill="${colors.failed}"/><path d="M0 0L4 4M4 0L0 4" stroke="#fff" stroke-width=".9"/>
</pattern>`;

type SvgAttributes = Record<string, string | number>;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: SvgAttributes = {}, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(svgNamespace, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function html<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Gives a mark its accessible name and tooltip. */
function describeMark(node: SVGElement, description: string): SVGElement {
  node.setAttribute('role', 'img');
  node.setAttribute('aria-label', description);
  node.append(svg('title', {}, description));
  return node;
}

function barFill(bar: BarBox): SvgAttributes {
  const mark = bar.mark;
  if (mark.kind === 'refresh') {
    if (mark.phase === 'succeeded') return { fill: colors.refresh };
    if (mark.phase === 'failed') return { fill: 'url(#timeline-crosshatch)' };
    const stroke = mark.phase === 'running' ? colors.refresh : colors.idle;
    return { fill: '#fff', stroke, 'stroke-width': 1.5, 'stroke-dasharray': '4 2' };
  }
  switch (mark.outcome) {
    case 'attached':
      return { fill: colors.attached };
    case 'retried':
      return { fill: 'url(#timeline-stripes)' };
    case 'unauthorized':
      return { fill: '#fff', stroke: colors.failed, 'stroke-width': 1.2 };
    case 'failed':
      return { fill: 'url(#timeline-crosshatch)' };
  }
}

function describeBar(bar: BarBox): string {
  const mark = bar.mark;
  if (mark.kind === 'refresh') return `${refreshLabel(mark)}, started ${clockTime(mark.start)}`;
  const status = mark.status === undefined ? '' : `, status ${mark.status}`;
  return `${mark.lane}: ${mark.method} ${mark.path} ${mark.outcome}${status}, ${formatDuration(mark.end - mark.start)}, started ${clockTime(mark.start)}`;
}

function drawBar(bar: BarBox): SVGElement {
  const mark = bar.mark;
  const rect = svg('rect', { x: bar.x.toFixed(1), y: bar.y, width: bar.width.toFixed(1), height: bar.height, rx: 1, ...barFill(bar) });
  rect.dataset.kind = mark.kind;
  rect.dataset.start = String(Math.round(mark.start));
  if (mark.kind === 'request') {
    rect.dataset.lane = mark.lane;
    rect.dataset.outcome = mark.outcome;
    rect.dataset.end = String(Math.round(mark.end));
  } else {
    rect.dataset.phase = mark.phase;
    if (mark.end !== null) rect.dataset.end = String(Math.round(mark.end));
  }
  return describeMark(rect, describeBar(bar));
}

/** Returns the outline of a state marker: a diamond, a circle or a triangle, by status. */
function markerShape(status: AuthStatus, x: number, y: number): SVGElement {
  switch (status) {
    case 'authenticated':
      return svg('path', { d: `M${x} ${y - 6}L${x + 6} ${y}L${x} ${y + 6}L${x - 6} ${y}Z`, fill: colors.attached });
    case 'unauthenticated':
      return svg('circle', { cx: x, cy: y, r: 5, fill: '#fff', stroke: colors.idle, 'stroke-width': 2 });
    case 'login_required':
      return svg('path', { d: `M${x} ${y - 6}L${x + 6} ${y + 5}L${x - 6} ${y + 5}Z`, fill: colors.failed });
  }
}

function drawText(label: TextBox, attributes: SvgAttributes = {}): SVGTextElement {
  return svg('text', { x: label.x.toFixed(1), y: label.y, 'text-anchor': label.anchor, fill: colors.text, 'aria-hidden': 'true', ...attributes }, label.text);
}

function drawMarker(marker: MarkerBox, plotTop: number): SVGElement[] {
  const shape = markerShape(marker.mark.status, marker.x, marker.y);
  shape.dataset.kind = 'state';
  shape.dataset.status = marker.mark.status;
  shape.dataset.start = String(Math.round(marker.mark.at));
  describeMark(shape, `state: ${stateLabel(marker.mark)} at ${clockTime(marker.mark.at)}`);
  // A guide through the lanes above shows which requests came before and after the change.
  const guide = svg('line', { x1: marker.x, x2: marker.x, y1: plotTop, y2: marker.y - 6, stroke: colors.idle, 'stroke-dasharray': '2 3' });
  return marker.label === undefined ? [guide, shape] : [guide, shape, drawText(marker.label)];
}

function drawBackground(layout: TimelineLayout): SVGElement[] {
  const nodes: SVGElement[] = [];
  layout.lanes.forEach((lane, index) => {
    nodes.push(svg('rect', { x: 0, y: lane.y, width: layout.width, height: lane.height, fill: index % 2 === 0 ? '#f7f8fa' : '#fff' }));
    const weight = index === 0 ? 600 : 400;
    nodes.push(svg('text', { x: 6, y: lane.y + Math.min(lane.height / 2 + 4, 16), fill: colors.text, 'font-size': 12, 'font-weight': weight, 'data-lane-label': lane.label }, lane.label));
  });
  for (const x of layout.ticks) nodes.push(svg('line', { x1: x.toFixed(1), x2: x.toFixed(1), y1: layout.plotTop, y2: layout.plotBottom + 4, stroke: colors.grid }));
  nodes.push(svg('line', { x1: layout.plotLeft, x2: layout.plotRight, y1: layout.plotBottom, y2: layout.plotBottom, stroke: colors.idle }));
  for (const gap of layout.gaps) {
    const idle = svg('rect', { x: gap.x, y: layout.plotTop, width: gap.width, height: layout.plotBottom - layout.plotTop, fill: '#eceef2' });
    nodes.push(describeMark(idle, `idle for ${formatDuration(gap.durationMs)}, shortened`));
    // Two slanted strokes on the axis, the usual sign for a cut scale.
    const middle = gap.x + gap.width / 2;
    for (const offset of [-3, 3]) nodes.push(svg('line', { x1: middle + offset - 3, x2: middle + offset + 3, y1: layout.plotBottom + 5, y2: layout.plotBottom - 5, stroke: colors.text }));
  }
  for (const label of layout.axisLabels) nodes.push(drawText(label, { 'font-size': 10 }));
  return nodes;
}

function legendSwatch(shape: SVGElement): SVGSVGElement {
  const swatch = svg('svg', { width: 22, height: 12, viewBox: '-1 0 22 12', 'aria-hidden': 'true' });
  swatch.append(shape);
  return swatch;
}

function buildLegend(): HTMLUListElement {
  const bar = (fill: SvgAttributes) => legendSwatch(svg('rect', { x: 0, y: 3, width: 20, height: 6, rx: 1, ...fill }));
  const items: Array<[SVGSVGElement, string]> = [
    [bar({ fill: colors.attached }), 'request attached'],
    [bar({ fill: 'url(#timeline-stripes)' }), 'retried after a 401 and the refresh'],
    [bar({ fill: '#fff', stroke: colors.failed, 'stroke-width': 1.2 }), 'unauthorized (sent without a token, or 401 to the page)'],
    [bar({ fill: 'url(#timeline-crosshatch)' }), 'failed request or refresh'],
    [bar({ fill: colors.refresh }), 'refresh succeeded'],
    [bar({ fill: '#fff', stroke: colors.refresh, 'stroke-width': 1.5, 'stroke-dasharray': '4 2' }), 'refresh running'],
    [legendSwatch(markerShape('authenticated', 10, 6)), 'authenticated'],
    [legendSwatch(markerShape('unauthenticated', 10, 6)), 'logged out'],
    [legendSwatch(markerShape('login_required', 10, 6)), 'login required'],
  ];
  const legend = html('ul', { class: 'timeline-legend', 'aria-label': 'Legend' });
  for (const [swatch, text] of items) {
    const item = html('li');
    item.append(swatch, text);
    legend.append(item);
  }
  return legend;
}

function plural(count: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : pluralNoun}`;
}

/** Returns "2 attached, 1 failed" style counts of `keys`, in order of first appearance. */
function countKeys(keys: string[]): string {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return [...counts].map(([key, count]) => `${count} ${key}`).join(', ');
}

function summarize(layout: TimelineLayout): string {
  const marks = layout.visibleMarks;
  if (marks.length === 0) return 'No events yet. Log in, wait until the token has expired, then press "Burst of 20 calls" here and in a second tab.';

  const requests = marks.filter((mark) => mark.kind === 'request');
  const tabCount = new Set(requests.map((mark) => mark.lane)).size;
  const outcomes = countKeys(requests.map((mark) => mark.outcome));
  const refreshes = marks.filter((mark) => mark.kind === 'refresh');
  const phases = countKeys(refreshes.map((mark) => mark.phase));
  const stateCount = marks.filter((mark) => mark.kind === 'state').length;

  const parts = [
    `${plural(requests.length, 'request')} from ${plural(tabCount, 'tab')}${outcomes === '' ? '' : ` (${outcomes})`}`,
    `${plural(refreshes.length, 'refresh', 'refreshes')}${phases === '' ? '' : ` (${phases})`}`,
    plural(stateCount, 'state change'),
  ];
  const hidden = layout.hiddenMarkCount === 0 ? '' : ` ${plural(layout.hiddenMarkCount, 'older mark')} not shown.`;
  return `Shown: ${parts.join(', ')}.${hidden}`;
}

/** The timeline, drawn into a container element whose content it replaces. */
export class Timeline {
  #model = new TimelineModel();
  readonly #chart: SVGSVGElement;
  readonly #content: SVGGElement;
  readonly #summary: HTMLParagraphElement;
  readonly #pauseButton: HTMLButtonElement;
  #paused = false;
  /** The fixed "now" of a replayed event list, or null while the timeline follows live events. */
  #replayNow: number | null = null;
  #frame: number | null = null;
  #drawnWidth = 0;
  #runningTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(container: HTMLElement) {
    const head = html('div', { class: 'timeline-head' });
    const title = html('h2', { id: 'timeline-title' }, 'Timeline');
    this.#pauseButton = html('button', { id: 'timeline-pause', class: 'secondary', type: 'button', 'aria-pressed': 'false' }, 'Pause');
    const clearButton = html('button', { id: 'timeline-clear', class: 'secondary', type: 'button' }, 'Clear');
    head.append(title, this.#pauseButton, clearButton);

    const figure = html('figure');
    const caption = html('figcaption', { id: 'timeline-caption' }, `One lane per open tab, this tab first, then the worker's refreshes and the state changes. A bar runs from the moment the worker intercepted a request to its response. Idle gaps longer than ${formatDuration(idleGapMs)} are shortened.`);
    this.#summary = html('p', { id: 'timeline-summary', class: 'timeline-summary' });
    this.#chart = svg('svg', { class: 'timeline-chart', role: 'group', 'aria-labelledby': 'timeline-title timeline-caption', 'aria-describedby': 'timeline-summary' });
    const defs = svg('defs');
    defs.innerHTML = patterns;
    this.#content = svg('g');
    this.#chart.append(defs, this.#content);
    figure.append(caption, this.#chart, this.#summary);

    document.head.append(html('style', {}, styles));
    container.classList.add('timeline');
    container.replaceChildren(head, figure, buildLegend());
    this.#pauseButton.addEventListener('click', () => this.#togglePause());
    clearButton.addEventListener('click', () => this.clear());
    // Only a new width changes the layout; the height follows from it.
    new ResizeObserver(() => {
      if (this.#chartWidth() !== this.#drawnWidth) this.#schedule();
    }).observe(container);
    this.#schedule();
  }

  /** Adds a live event. Ignored while a replayed list is shown, until `clear`. */
  record(event: GuardianEvent, receivedAt = Date.now()): void {
    if (this.#replayNow !== null) return;
    if (this.#model.add({ event, receivedAt })) this.#schedule();
  }

  /** Sets the auth status the page read when it loaded, so the first state event is not drawn as a change. */
  setKnownStatus(status: AuthStatus): void {
    this.#model.setKnownStatus(status);
  }

  /**
   * Shows a fixed list of events, as if `now` were the current time, and ignores live events
   * until `clear`. The same list always draws the same picture at the same width.
   */
  replay(entries: readonly TimelineEntry[], now: number): void {
    this.#model = new TimelineModel();
    this.#replayNow = now;
    for (const entry of entries) this.#model.add(entry);
    this.#schedule();
  }

  /** Removes every mark and follows live events again. */
  clear(): void {
    this.#model.clear();
    this.#replayNow = null;
    this.#schedule();
  }

  #chartWidth(): number {
    return Math.max(360, Math.floor(this.#chart.getBoundingClientRect().width));
  }

  #togglePause(): void {
    this.#paused = !this.#paused;
    this.#pauseButton.textContent = this.#paused ? 'Resume' : 'Pause';
    this.#pauseButton.setAttribute('aria-pressed', String(this.#paused));
    if (!this.#paused) this.#schedule();
  }

  #schedule(): void {
    if (this.#frame !== null || this.#paused) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = null;
      this.#draw();
    });
  }

  #draw(): void {
    const now = this.#replayNow ?? Date.now();
    if (this.#replayNow === null) this.#model.prune(now);
    const width = this.#chartWidth();
    this.#drawnWidth = width;
    const layout = layoutTimeline(this.#model.marks, width, now);

    this.#chart.setAttribute('viewBox', `0 0 ${layout.width} ${layout.height}`);
    this.#chart.setAttribute('height', String(layout.height));
    const nodes = drawBackground(layout);
    for (const bar of layout.bars) {
      nodes.push(drawBar(bar));
      if (bar.label !== undefined) nodes.push(drawText(bar.label));
    }
    for (const marker of layout.markers) nodes.push(...drawMarker(marker, layout.plotTop));
    this.#content.replaceChildren(...nodes);
    this.#summary.textContent = summarize(layout);

    // A running refresh grows with the clock, so the timeline redraws until its outcome arrives.
    clearTimeout(this.#runningTimer);
    const running = layout.visibleMarks.some((mark) => mark.kind === 'refresh' && mark.phase === 'running');
    if (running && this.#replayNow === null) this.#runningTimer = setTimeout(() => this.#schedule(), runningRedrawMs);
  }
}
