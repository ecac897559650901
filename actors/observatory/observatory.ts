/**
 * The simulated observatory: LCO OCS-shaped request groups, validated for
 * visibility (dark, under the airmass limit, far enough from the Moon, from one
 * of the sites during a window), scheduled at the first observable time of
 * each request's window, "observed" after a configurable real-time delay, with
 * weather failures retried at the next observable time until the failure limit
 * or the window's end. Every state change is reported through `onStatus`, every
 * exposure through `onExposure`.
 *
 * State machine of a request (and of its group):
 * `PENDING → COMPLETED | WINDOW_EXPIRED | FAILURE_LIMIT_REACHED | CANCELED`;
 * terminal states never change. A group is terminal when all its requests are:
 * COMPLETED when all completed, else the first request's other terminal state.
 *
 * @module
 */
import type { ObservationState } from "../../contracts/messages.ts";
import { findVisibility, type Site, SITES } from "../../astro/visibility.ts";
import {
  type OcsRequestGroup,
  type OcsRequestGroupInput,
  type OcsValidation,
  TERMINAL_STATES,
} from "../../gateway/tom/facilities/ocs.ts";
import type { ObservatorySnapshot, ObservatoryStore } from "./state_store.ts";

/** True for the legal state changes. */
export function canTransition(from: ObservationState, to: ObservationState): boolean {
  return from === "PENDING" && to !== "PENDING";
}

/** The state of a group from its requests' states. */
export function groupState(states: readonly ObservationState[]): ObservationState {
  if (states.some((s) => !TERMINAL_STATES.includes(s))) return "PENDING";
  if (states.every((s) => s === "COMPLETED")) return "COMPLETED";
  return states.find((s) => s !== "COMPLETED")!;
}

/** A refusal of the API (400 with OCS-style errors). */
export class OcsError extends Error {
  constructor(readonly status: 400 | 404, readonly body: Record<string, unknown>) {
    super(JSON.stringify(body));
    this.name = "OcsError";
  }
}

/** One simulated exposure, reported to `onExposure`. */
export interface Exposure {
  readonly group: OcsRequestGroup;
  readonly requestIndex: number;
  readonly configurationIndex: number;
  readonly filter: string;
  readonly target: { name: string; ra: number; dec: number };
  /** Sky time of the exposure. */
  readonly at: Date;
  readonly site: Site;
  readonly airmass: number;
  readonly instrument: string;
}

/** A state change, reported to `onStatus`. */
export interface StatusChange {
  readonly group: OcsRequestGroup;
  readonly previous: ObservationState | null;
  readonly detail: string;
}

/** Options of the observatory. */
export interface ObservatoryOptions {
  /** Real-time delay before each observation attempt, ms. */
  readonly delayMs: number;
  /** Attempts of a request before FAILURE_LIMIT_REACHED. */
  readonly failureLimit: number;
  /** Weather: true when attempt `attempt` (0-based) of request `requestId` is clouded out. */
  readonly weatherFails: (requestId: number, attempt: number) => boolean;
  readonly sites?: readonly Site[];
  readonly onStatus: (change: StatusChange) => Promise<void> | void;
  readonly onExposure: (exposure: Exposure) => Promise<void> | void;
  readonly onError?: (err: Error) => void;
  /** Where request groups are kept across restarts (unset: in memory only). */
  readonly store?: ObservatoryStore;
}

interface RequestRun {
  attempts: number;
  /** Sky time from which the next observable slot is searched. */
  from: Date;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * The simulated observatory's scheduler and store: in memory, saved after every
 * change to `options.store` when given (call {@link restore} before serving).
 */
export class Observatory {
  readonly #groups = new Map<number, OcsRequestGroup>();
  readonly #byName = new Map<string, number>();
  readonly #runs = new Map<number, RequestRun>();
  #nextGroup = 1;
  #nextRequest = 1;
  #closed = false;
  /** The save waiting to start (it snapshots the state when it starts), if any. */
  #queued?: Promise<void>;
  /** Settles when every save asked for so far has finished. */
  #saved: Promise<void> = Promise.resolve();

  constructor(readonly options: ObservatoryOptions) {}

  /**
   * Loads the store's state and resumes every pending request (scheduled after
   * the usual delay, from where its slot search stood). Returns how many groups
   * were loaded and how many requests resumed.
   */
  async restore(): Promise<{ groups: number; resumed: number }> {
    const snap = await this.options.store?.load();
    if (!snap) return { groups: 0, resumed: 0 };
    if (this.#groups.size) throw new Error("restore() must run before the first submission");
    this.#nextGroup = snap.nextGroup;
    this.#nextRequest = snap.nextRequest;
    let resumed = 0;
    for (const g of snap.groups) {
      this.#groups.set(g.id, g);
      this.#byName.set(`${g.proposal}/${g.name}`, g.id);
    }
    for (const g of snap.groups) {
      g.requests.forEach((r, i) => {
        if (r.state !== "PENDING") return;
        const saved = snap.runs[String(r.id)];
        const run: RequestRun = saved
          ? { attempts: saved.attempts, from: new Date(saved.from) }
          : { attempts: 0, from: new Date(r.windows[0].start) };
        this.#runs.set(r.id, run);
        this.#schedule(g, i, run);
        resumed++;
      });
    }
    return { groups: snap.groups.length, resumed };
  }

  /** The state a store keeps. */
  snapshot(): ObservatorySnapshot {
    const runs: ObservatorySnapshot["runs"] = {};
    for (const g of this.#groups.values()) {
      for (const r of g.requests) {
        const run = this.#runs.get(r.id);
        if (r.state === "PENDING" && run) {
          runs[String(r.id)] = { attempts: run.attempts, from: run.from.toISOString() };
        }
      }
    }
    return {
      version: 1,
      nextGroup: this.#nextGroup,
      nextRequest: this.#nextRequest,
      groups: structuredClone([...this.#groups.values()]),
      runs,
    };
  }

  /** Resolves when every change so far is saved; rejects when the last save failed. */
  flush(): Promise<void> {
    return this.#queued ?? this.#saved;
  }

  /** Saves the state after a change (coalesced: one save covers every change before it starts). */
  #persist(): void {
    const store = this.options.store;
    if (!store || this.#queued) return;
    const next = this.#saved.then(() => {
      this.#queued = undefined;
      return store.save(this.snapshot());
    });
    this.#queued = next;
    this.#saved = next.catch((err) =>
      this.options.onError?.(
        new Error(`cannot save the observatory state to ${store.location}: ${err.message}`),
      )
    );
  }

  /** Validates a request group: per request, is it observable in one of its windows? */
  validate(input: OcsRequestGroupInput): OcsValidation {
    const durations: Record<string, number> = {};
    const errors: Record<string, string[]>[] = [];
    let bad = false;
    input.requests.forEach((r, i) => {
      const problems: string[] = [];
      let minutes = 0;
      for (const cfg of r.configurations) {
        let cfgMinutes = 0;
        const reasons: string[] = [];
        for (const w of r.windows) {
          const v = this.#visibility(cfg, new Date(w.start), new Date(w.end));
          cfgMinutes += v.minutes;
          if (v.reason) reasons.push(v.reason);
        }
        if (cfgMinutes === 0) {
          problems.push(`${cfg.target.name} is not observable: ${reasons.join("; ")}`);
        }
        minutes = Math.max(minutes, cfgMinutes);
      }
      durations[String(i)] = minutes;
      errors.push(problems.length ? { windows: problems } : {});
      if (problems.length) bad = true;
    });
    return { request_durations: durations, errors: bad ? { requests: errors } : {} };
  }

  /** Submits a group (a repeated name returns the existing group: submission is idempotent). */
  submit(input: OcsRequestGroupInput): { group: OcsRequestGroup; created: boolean } {
    const existing = this.#byName.get(`${input.proposal}/${input.name}`);
    if (existing !== undefined) return { group: this.#groups.get(existing)!, created: false };
    const v = this.validate(input);
    if (v.errors.requests) throw new OcsError(400, v.errors);
    const now = new Date().toISOString();
    const group: OcsRequestGroup = {
      ...input,
      id: this.#nextGroup++,
      state: "PENDING",
      created: now,
      modified: now,
      requests: input.requests.map((r) => ({ ...r, id: this.#nextRequest++, state: "PENDING" })),
    };
    this.#groups.set(group.id, group);
    this.#byName.set(`${input.proposal}/${input.name}`, group.id);
    group.requests.forEach((r, i) => {
      const run: RequestRun = { attempts: 0, from: new Date(r.windows[0].start) };
      this.#runs.set(r.id, run);
      this.#schedule(group, i, run);
    });
    this.#persist();
    this.#report(group, null, "submitted");
    return { group, created: true };
  }

  /** A group by id. */
  get(id: number): OcsRequestGroup | undefined {
    return this.#groups.get(id);
  }

  /** All groups, newest first. */
  list(): OcsRequestGroup[] {
    return [...this.#groups.values()].reverse();
  }

  /** Cancels a group's pending requests; refuses a terminal group. */
  cancel(id: number): OcsRequestGroup {
    const g = this.#groups.get(id);
    if (!g) throw new OcsError(404, { detail: `no request group ${id}` });
    if (TERMINAL_STATES.includes(g.state)) {
      throw new OcsError(400, {
        non_field_errors: [`request group ${id} is ${g.state} and cannot be canceled`],
      });
    }
    for (const r of g.requests) {
      if (r.state === "PENDING") {
        r.state = "CANCELED";
        clearTimeout(this.#runs.get(r.id)?.timer);
      }
    }
    this.#update(g, "canceled on request");
    return g;
  }

  /** Stops every timer. */
  close(): void {
    this.#closed = true;
    for (const r of this.#runs.values()) clearTimeout(r.timer);
  }

  #visibility(
    cfg: OcsRequestGroupInput["requests"][number]["configurations"][number],
    start: Date,
    end: Date,
  ) {
    return findVisibility(cfg.target, { start, end }, {
      maxAirmass: cfg.constraints.max_airmass,
      minLunarDistance: cfg.constraints.min_lunar_distance,
    }, this.options.sites ?? SITES);
  }

  #schedule(group: OcsRequestGroup, index: number, run: RequestRun): void {
    if (this.#closed) return;
    run.timer = setTimeout(() => {
      this.#attempt(group, index, run).catch((err) => this.options.onError?.(err as Error));
    }, this.options.delayMs);
  }

  async #attempt(group: OcsRequestGroup, index: number, run: RequestRun): Promise<void> {
    const req = group.requests[index];
    if (req.state !== "PENDING" || this.#closed) return;
    const cfg0 = req.configurations[0];
    const end = new Date(Math.max(...req.windows.map((w) => Date.parse(w.end))));
    const v = run.from <= end ? this.#visibility(cfg0, run.from, end) : undefined;
    if (!v?.first) {
      req.state = "WINDOW_EXPIRED";
      this.#update(group, `request ${req.id}: no observable time left in its window`);
      return;
    }
    const attempt = run.attempts++;
    if (this.options.weatherFails(req.id, attempt)) {
      if (run.attempts >= this.options.failureLimit) {
        req.state = "FAILURE_LIMIT_REACHED";
        this.#update(group, `request ${req.id}: ${run.attempts} attempts failed (weather)`);
        return;
      }
      run.from = new Date(v.first.at.getTime() + 3_600_000);
      this.#persist();
      this.#schedule(group, index, run);
      return;
    }
    let at = v.first.at.getTime();
    for (const [ci, cfg] of req.configurations.entries()) {
      for (const ic of cfg.instrument_configs) {
        await this.options.onExposure({
          group,
          requestIndex: index,
          configurationIndex: ci,
          filter: ic.optical_elements.filter,
          target: cfg.target,
          at: new Date(at),
          site: v.first.site,
          airmass: v.first.airmass,
          instrument: cfg.instrument_type,
        });
        at += ic.exposure_time * ic.exposure_count * 1000 + 60_000;
      }
    }
    if (req.state !== "PENDING") return; // canceled while exposing
    req.state = "COMPLETED";
    this.#update(
      group,
      `request ${req.id}: observed at ${v.first.site.name}, airmass ${v.first.airmass.toFixed(2)}`,
    );
  }

  #update(group: OcsRequestGroup, detail: string): void {
    const previous = group.state;
    const next = groupState(group.requests.map((r) => r.state));
    if (next !== previous && !canTransition(previous, next)) {
      throw new Error(`illegal transition of request group ${group.id}: ${previous} → ${next}`);
    }
    group.state = next;
    group.modified = new Date().toISOString();
    this.#persist();
    this.#report(group, previous, detail);
  }

  #report(group: OcsRequestGroup, previous: ObservationState | null, detail: string): void {
    Promise.resolve(this.options.onStatus({ group: structuredClone(group), previous, detail }))
      .catch((err) => this.options.onError?.(err as Error));
  }
}
