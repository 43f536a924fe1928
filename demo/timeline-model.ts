// The data behind the demo's timeline: guardian events turned into marks on lanes. Every mark
// is built from one event and the time the page received it, so the timeline shows nothing
// that the events do not carry.
import type { AuthStatus, GuardianEvent, RequestOutcome } from '../client/index.ts';

/** A guardian event and the time the page received it, in epoch milliseconds. */
export interface TimelineEntry {
  event: GuardianEvent;
  receivedAt: number;
}

/** One request to a resource, from interception to response, on the lane of the tab that made it. */
export interface RequestMark {
  kind: 'request';
  lane: string;
  requestId: number;
  method: string;
  path: string;
  outcome: RequestOutcome;
  status: number | undefined;
  start: number;
  end: number;
}

/**
 * One refresh of the worker. A `running` refresh has no end yet. An `unfinished` one is a
 * refresh whose outcome did not arrive within `unfinishedAfterMs`, as when the browser stopped
 * the worker meanwhile.
 */
export interface RefreshMark {
  kind: 'refresh';
  refreshId: number;
  phase: 'running' | 'succeeded' | 'failed' | 'unfinished';
  start: number;
  end: number | null;
  /** Duration measured by the worker, in milliseconds, or undefined while the refresh runs. */
  durationMs: number | undefined;
  errorCode: string | undefined;
}

/** A change of the auth status, at the time its state event arrived. */
export interface StateMark {
  kind: 'state';
  status: AuthStatus;
  errorCode: string | undefined;
  at: number;
}

export type Mark = RequestMark | RefreshMark | StateMark;

export const ownLane = 'this tab';
export const unknownLane = 'unknown tab';

/** Marks older than this are dropped, in milliseconds. */
export const retentionMs = 5 * 60_000;
/** Upper bound on the marks kept, so a long session keeps redraws cheap. */
export const maxMarks = 600;
/** A refresh without an outcome event after this long is drawn as unfinished, in milliseconds. */
export const unfinishedAfterMs = 60_000;

/** Returns the end time of a mark, which is `now` for a running refresh. */
export function markEnd(mark: Mark, now: number): number {
  if (mark.kind === 'state') return mark.at;
  if (mark.kind === 'request') return mark.end;
  return mark.end ?? Math.max(mark.start, now);
}

export function markStart(mark: Mark): number {
  return mark.kind === 'state' ? mark.at : mark.start;
}

/** Collects marks from guardian events as they arrive. */
export class TimelineModel {
  readonly marks: Mark[] = [];
  // Other tabs are numbered from 2 in the order their first request event arrives.
  readonly #tabNumbers = new Map<string, number>();
  #lastStatus: AuthStatus | null = null;

  /**
   * Sets the status that the next state event is compared with, as read from the worker when
   * the page loaded. A state event that arrived before it takes precedence.
   */
  setKnownStatus(status: AuthStatus): void {
    this.#lastStatus ??= status;
  }

  /**
   * Adds the mark for one event, dropping the oldest mark beyond `maxMarks`. Returns false when
   * the event changes nothing on the timeline.
   */
  add(entry: TimelineEntry): boolean {
    const changed = this.#addMark(entry);
    if (this.marks.length > maxMarks) this.marks.shift();
    return changed;
  }

  #addMark(entry: TimelineEntry): boolean {
    const { event, receivedAt } = entry;
    switch (event.type) {
      case 'state':
        return this.#addState(event.state.status, event.state.error?.code, receivedAt);
      case 'refresh':
        return this.#addRefresh(event, receivedAt);
      case 'request':
        this.marks.push({
          kind: 'request',
          lane: this.#laneFor(event.ownTab, event.clientId),
          requestId: event.requestId,
          method: event.method,
          path: event.path,
          outcome: event.outcome,
          status: event.status,
          start: receivedAt - Math.max(0, event.durationMs),
          end: receivedAt,
        });
        return true;
    }
  }

  /** Drops marks that ended more than `retentionMs` ago, and ends refreshes left without an outcome. */
  prune(now: number): void {
    for (const mark of this.marks) {
      if (mark.kind === 'refresh' && mark.end === null && now - mark.start > unfinishedAfterMs) {
        mark.phase = 'unfinished';
        mark.end = mark.start + unfinishedAfterMs;
      }
    }
    const recent = this.marks.filter((mark) => markEnd(mark, now) >= now - retentionMs);
    this.marks.splice(0, this.marks.length, ...recent);
  }

  /** Drops every mark. Tabs keep their numbers, so a tab is not renamed after a clear. */
  clear(): void {
    this.marks.length = 0;
  }

  #laneFor(ownTab: boolean, clientId: string): string {
    if (ownTab) return ownLane;
    if (clientId === '') return unknownLane;

    let number = this.#tabNumbers.get(clientId);
    if (number === undefined) {
      number = this.#tabNumbers.size + 2;
      this.#tabNumbers.set(clientId, number);
    }
    return `tab ${number}`;
  }

  #addState(status: AuthStatus, errorCode: string | undefined, at: number): boolean {
    // Every refresh sends a state event too; only a change of status is a mark.
    const changed = status !== this.#lastStatus;
    this.#lastStatus = status;
    if (!changed) return false;

    this.marks.push({ kind: 'state', status, errorCode, at });
    return true;
  }

  #addRefresh(event: Extract<GuardianEvent, { type: 'refresh' }>, receivedAt: number): boolean {
    if (event.phase === 'started') {
      this.marks.push({ kind: 'refresh', refreshId: event.refreshId, phase: 'running', start: receivedAt, end: null, durationMs: undefined, errorCode: undefined });
      return true;
    }

    // Refresh IDs start again at 1 when the worker restarts, so only a running refresh matches.
    const running = this.marks.findLast((mark): mark is RefreshMark => mark.kind === 'refresh' && mark.refreshId === event.refreshId && mark.end === null);
    const mark: RefreshMark = running ?? {
      // The page loaded while this refresh ran, so its start comes from the reported duration.
      kind: 'refresh',
      refreshId: event.refreshId,
      phase: 'running',
      start: receivedAt - Math.max(0, event.durationMs ?? 0),
      end: null,
      durationMs: undefined,
      errorCode: undefined,
    };
    mark.phase = event.phase;
    mark.end = receivedAt;
    mark.durationMs = event.durationMs;
    mark.errorCode = event.error?.code;
    if (running === undefined) this.marks.push(mark);
    return true;
  }
}
