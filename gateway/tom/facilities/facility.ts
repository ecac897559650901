/**
 * The facility interface (after TOM Toolkit's facility modules): a facility
 * validates, submits, reports and cancels observation requests, and names its
 * terminal states. The TOM keeps an ObservationRecord per submitted request.
 *
 * @module
 */
import type { ObservationState } from "../../../contracts/messages.ts";

/** What the TOM asks a facility to observe (facility-neutral). */
export interface ObservationParameters {
  readonly target: { name: string; ra: number; dec: number };
  /** Filters, each observed in every epoch. */
  readonly filters: readonly string[];
  readonly exposureTimeS: number;
  readonly exposureCount: number;
  /** One window per epoch (ISO 8601). */
  readonly windows: readonly { start: string; end: string }[];
  readonly maxAirmass: number;
  readonly minLunarDistance: number;
}

/** The answer of validation: per epoch, the problems (empty when fine). */
export interface FacilityValidation {
  readonly ok: boolean;
  /** Problems per window index. */
  readonly problems: readonly string[][];
}

/** A request as the facility sees it. */
export interface FacilityStatus {
  readonly observationId: string;
  readonly state: ObservationState;
  readonly requests: readonly { id: string; state: ObservationState }[];
}

/** A facility. */
export interface Facility {
  /** Name (the ObservationRecord's `facility`). */
  readonly name: string;
  /** States after which the request never changes. */
  readonly terminalStates: readonly ObservationState[];
  validate(p: ObservationParameters): Promise<FacilityValidation>;
  /** Submits under a name; submitting the same name again returns the same request. */
  submit(name: string, p: ObservationParameters): Promise<FacilityStatus>;
  status(observationId: string): Promise<FacilityStatus>;
  cancel(observationId: string): Promise<FacilityStatus>;
}

/** Raised when a facility refuses a request (the message says why). */
export class FacilityRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FacilityRefusal";
  }
}
