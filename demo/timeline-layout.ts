// Geometry of the demo's timeline: where each lane, bar, marker and axis label goes. The time
// axis is linear inside each burst of activity and shortens idle gaps to a fixed width, so a
// burst of a few hundred milliseconds stays readable after half a minute of waiting.
import { markEnd, markStart, ownLane, unknownLane, type Mark, type RefreshMark, type RequestMark, type StateMark } from './timeline-model.ts';

/** Gaps between events longer than this are drawn at `gapWidth`, in milliseconds. */
export const idleGapMs = 1_000;
const maxSegments = 6;
/** The axis spans at least this long, so a single short request does not fill the width, in milliseconds. */
const minSpanMs = 300;

const labelColumnWidth = 76;
const rightMargin = 10;
const topMargin = 4;
const gapWidth = 36;
const segmentPadding = 8;
const barHeight = 5;
const rowPitch = 7;
const lanePadding = 6;
const maxRows = 30;
const minTabLaneHeight = 24;
const refreshLaneHeight = 34;
const stateLaneHeight = 44;
const axisHeight = 34;
const minBarWidth = 3;
const minTickSpacing = 70;
/** Width of one character of the 11 px axis and label font, estimated on the wide side. */
const charWidth = 6.5;

export type LaneKind = 'tab' | 'refresh' | 'state';

export interface LaneBox {
  label: string;
  kind: LaneKind;
  y: number;
  height: number;
}

export interface TextBox {
  x: number;
  y: number;
  text: string;
  anchor: 'start' | 'middle' | 'end';
}

export interface BarBox {
  mark: RequestMark | RefreshMark;
  x: number;
  y: number;
  width: number;
  height: number;
  /** Text drawn beside a refresh bar, or undefined when it would overlap another label. */
  label: TextBox | undefined;
}

export interface MarkerBox {
  mark: StateMark;
  x: number;
  y: number;
  label: TextBox | undefined;
}

/** A shortened idle gap between two bursts of activity. */
export interface GapBox {
  x: number;
  width: number;
  durationMs: number;
}

export interface TimelineLayout {
  width: number;
  height: number;
  plotLeft: number;
  plotRight: number;
  plotTop: number;
  plotBottom: number;
  lanes: LaneBox[];
  bars: BarBox[];
  markers: MarkerBox[];
  gaps: GapBox[];
  /** X positions of the axis ticks. */
  ticks: number[];
  axisLabels: TextBox[];
  /** The marks drawn, oldest first. */
  visibleMarks: Mark[];
  /** Marks left out because they fall before the bursts that fit the width. */
  hiddenMarkCount: number;
}

interface Segment {
  start: number;
  end: number;
  /** X of `start`, after the left padding. */
  x: number;
}

/** Formats a duration the way the axis and the labels show it. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** Formats an epoch time as local `HH:MM:SS.mmm`. */
export function clockTime(epochMs: number): string {
  const date = new Date(epochMs);
  const pad = (value: number, length = 2) => String(value).padStart(length, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function textWidth(text: string): number {
  return text.length * charWidth;
}

/** Merges the marks' time spans into bursts separated by more than `idleGapMs`. */
export function activitySegments(marks: readonly Mark[], now: number): Array<{ start: number; end: number }> {
  const spans = marks.map((mark) => ({ start: markStart(mark), end: markEnd(mark, now) })).sort((a, b) => a.start - b.start);
  const segments: Array<{ start: number; end: number }> = [];
  for (const span of spans) {
    const last = segments.at(-1);
    if (last !== undefined && span.start - last.end <= idleGapMs) last.end = Math.max(last.end, span.end);
    else segments.push({ ...span });
  }
  return segments;
}

/** Maps times to x positions: linear inside a segment, a fixed gap between segments. */
class TimeScale {
  readonly segments: Segment[] = [];
  readonly gaps: GapBox[] = [];
  readonly msToPx: number;

  constructor(spans: Array<{ start: number; end: number }>, plotLeft: number, plotWidth: number) {
    const fixedWidth = (count: number) => (count - 1) * gapWidth + count * 2 * segmentPadding;
    let visible = spans.slice(-maxSegments);
    // On a narrow page, older bursts give way so the gaps take at most half the width.
    while (visible.length > 1 && fixedWidth(visible.length) > plotWidth / 2) visible = visible.slice(1);
    const totalMs = visible.reduce((sum, span) => sum + (span.end - span.start), 0);
    this.msToPx = (plotWidth - fixedWidth(Math.max(1, visible.length))) / Math.max(totalMs, minSpanMs);

    let x = plotLeft;
    visible.forEach((span, index) => {
      this.segments.push({ ...span, x: x + segmentPadding });
      x += 2 * segmentPadding + (span.end - span.start) * this.msToPx;
      const next = visible[index + 1];
      if (next === undefined) return;
      this.gaps.push({ x, width: gapWidth, durationMs: next.start - span.end });
      x += gapWidth;
    });
  }

  get start(): number {
    return this.segments[0]?.start ?? Infinity;
  }

  x(time: number): number {
    const segment = this.segments.find((candidate) => time <= candidate.end) ?? this.segments.at(-1);
    if (segment === undefined) return 0;
    const clamped = Math.min(Math.max(time, segment.start), segment.end);
    return segment.x + (clamped - segment.start) * this.msToPx;
  }
}

/** Keeps labels of one row from overlapping: `place` returns false when a label does not fit. */
class LabelRow {
  readonly #taken: Array<[number, number]> = [];

  place(label: TextBox): boolean {
    const width = textWidth(label.text);
    let left = label.x - width / 2;
    if (label.anchor === 'start') left = label.x;
    if (label.anchor === 'end') left = label.x - width;
    const right = left + width;
    if (this.#taken.some(([takenLeft, takenRight]) => left < takenRight + 6 && right > takenLeft - 6)) return false;
    this.#taken.push([left, right]);
    return true;
  }
}

function niceStep(minimumMs: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(minimumMs, 1)));
  for (const multiple of [1, 2, 5]) if (multiple * power >= minimumMs) return multiple * power;
  return 10 * power;
}

function tabLaneOrder(label: string): number {
  if (label === ownLane) return 0;
  if (label === unknownLane) return Number.MAX_SAFE_INTEGER;
  return Number(label.replace(/^tab /, ''));
}

/** Stacks a lane's requests in rows so that no two bars of a row overlap. */
function layoutTabLane(requests: RequestMark[], scale: TimeScale, laneTop: number): { bars: BarBox[]; height: number } {
  const rowEnds: number[] = [];
  const bars: BarBox[] = [];
  const sorted = [...requests].sort((a, b) => a.start - b.start || a.end - b.end);
  for (const mark of sorted) {
    const x = scale.x(mark.start);
    const width = Math.max(minBarWidth, scale.x(mark.end) - x);
    let row = rowEnds.findIndex((end) => end + 1 <= x);
    if (row === -1 && rowEnds.length < maxRows) row = rowEnds.length;
    // Past `maxRows` a bar shares the row that frees up first.
    if (row === -1) row = rowEnds.indexOf(Math.min(...rowEnds));
    rowEnds[row] = x + width;
    bars.push({ mark, x, y: laneTop + lanePadding + row * rowPitch, width, height: barHeight, label: undefined });
  }
  const rows = Math.max(1, rowEnds.length);
  return { bars, height: Math.max(minTabLaneHeight, 2 * lanePadding + (rows - 1) * rowPitch + barHeight) };
}

export function refreshLabel(mark: RefreshMark): string {
  switch (mark.phase) {
    case 'running':
      return `refresh #${mark.refreshId} running`;
    case 'succeeded':
      return `refresh #${mark.refreshId} · ${formatDuration(mark.durationMs ?? 0)}`;
    case 'failed':
      return `refresh #${mark.refreshId} failed: ${mark.errorCode ?? 'unknown error'}`;
    case 'unfinished':
      return `refresh #${mark.refreshId}: no outcome received`;
  }
}

function layoutRefreshLane(refreshes: RefreshMark[], scale: TimeScale, laneTop: number, now: number, plotRight: number): BarBox[] {
  const labels = new LabelRow();
  return refreshes.map((mark) => {
    const x = scale.x(mark.start);
    const width = Math.max(minBarWidth, scale.x(markEnd(mark, now)) - x);
    const text = refreshLabel(mark);
    const fitsAfterStart = x + textWidth(text) <= plotRight;
    const label: TextBox = { x: fitsAfterStart ? x : plotRight, y: laneTop + 13, text, anchor: fitsAfterStart ? 'start' : 'end' };
    return { mark, x, y: laneTop + 18, width, height: 10, label: labels.place(label) ? label : undefined };
  });
}

export function stateLabel(mark: StateMark): string {
  return mark.errorCode === undefined ? mark.status : `${mark.status} (${mark.errorCode})`;
}

function layoutStateLane(states: StateMark[], scale: TimeScale, laneTop: number, plotRight: number): MarkerBox[] {
  const rows = [new LabelRow(), new LabelRow()];
  return states.map((mark) => {
    const x = scale.x(mark.at);
    const text = stateLabel(mark);
    const fitsRight = x + 9 + textWidth(text) <= plotRight;
    let label: TextBox | undefined;
    for (const [index, row] of rows.entries()) {
      const candidate: TextBox = { x: fitsRight ? x + 9 : x - 9, y: laneTop + 18 + index * 15, text, anchor: fitsRight ? 'start' : 'end' };
      if (row.place(candidate)) {
        label = candidate;
        break;
      }
    }
    return { mark, x, y: laneTop + 14, label };
  });
}

function layoutAxis(scale: TimeScale, axisTop: number, rightEdge: number): { ticks: number[]; labels: TextBox[] } {
  const ticks: number[] = [];
  const labels: TextBox[] = [];
  const offsets = new LabelRow();
  const clocks = new LabelRow();
  for (const gap of scale.gaps) {
    const label: TextBox = { x: gap.x + gap.width / 2, y: axisTop + 14, text: formatDuration(gap.durationMs), anchor: 'middle' };
    if (offsets.place(label)) labels.push(label);
  }

  const stepMs = niceStep(minTickSpacing / scale.msToPx);
  for (const segment of scale.segments) {
    ticks.push(segment.x);
    const text = clockTime(segment.start);
    // The last burst may sit at the right edge, so its time ends there instead of being cut off.
    const fits = segment.x + textWidth(text) <= rightEdge;
    const clock: TextBox = { x: fits ? segment.x : rightEdge, y: axisTop + 28, text, anchor: fits ? 'start' : 'end' };
    if (clocks.place(clock)) labels.push(clock);
    for (let offset = stepMs; segment.start + offset <= segment.end; offset += stepMs) {
      const x = scale.x(segment.start + offset);
      ticks.push(x);
      const label: TextBox = { x, y: axisTop + 14, text: `+${formatDuration(offset)}`, anchor: 'middle' };
      if (offsets.place(label)) labels.push(label);
    }
  }
  return { ticks, labels };
}

/**
 * Lays out the marks in `width` pixels: one lane per tab (this tab first, then the others by
 * number), a lane for the worker's refreshes and one for state changes, and the time axis.
 */
export function layoutTimeline(marks: readonly Mark[], width: number, now: number): TimelineLayout {
  const plotLeft = labelColumnWidth;
  const plotRight = width - rightMargin;
  const scale = new TimeScale(activitySegments(marks, now), plotLeft, plotRight - plotLeft);
  const visibleMarks = marks.filter((mark) => markEnd(mark, now) >= scale.start);

  const requestsByLane = new Map<string, RequestMark[]>([[ownLane, []]]);
  for (const mark of visibleMarks) {
    if (mark.kind !== 'request') continue;
    const lane = requestsByLane.get(mark.lane) ?? [];
    lane.push(mark);
    requestsByLane.set(mark.lane, lane);
  }

  const lanes: LaneBox[] = [];
  const bars: BarBox[] = [];
  let y = topMargin;
  for (const label of [...requestsByLane.keys()].sort((a, b) => tabLaneOrder(a) - tabLaneOrder(b))) {
    const lane = layoutTabLane(requestsByLane.get(label) ?? [], scale, y);
    lanes.push({ label, kind: 'tab', y, height: lane.height });
    bars.push(...lane.bars);
    y += lane.height;
  }

  const refreshes = visibleMarks.filter((mark): mark is RefreshMark => mark.kind === 'refresh');
  lanes.push({ label: 'refresh', kind: 'refresh', y, height: refreshLaneHeight });
  bars.push(...layoutRefreshLane(refreshes, scale, y, now, plotRight));
  y += refreshLaneHeight;

  const states = visibleMarks.filter((mark): mark is StateMark => mark.kind === 'state');
  lanes.push({ label: 'state', kind: 'state', y, height: stateLaneHeight });
  const markers = layoutStateLane(states, scale, y, plotRight);
  y += stateLaneHeight;

  const axis = layoutAxis(scale, y, width - 2);
  return {
    width,
    height: y + axisHeight,
    plotLeft,
    plotRight,
    plotTop: topMargin,
    plotBottom: y,
    lanes,
    bars,
    markers,
    gaps: scale.gaps,
    ticks: axis.ticks,
    axisLabels: axis.labels,
    visibleMarks,
    hiddenMarkCount: marks.length - visibleMarks.length,
  };
}
