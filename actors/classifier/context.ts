/**
 * What the classifier knows about a candidate besides its light curve: the GW
 * event it may belong to, as seen from the candidate's position.
 *
 * @module
 */

/** A candidate seen through one GW event's sky map. */
export interface GwContext {
  /** Superevent id (e.g. `S170817a`). */
  readonly eventId: string;
  /** Merger time, UTC MJD. */
  readonly t0Mjd: number;
  /** Searched credible level at the candidate (0.4 = inside the 40% region). */
  readonly credibleLevel: number;
  /** Probability density at the candidate, deg⁻². */
  readonly densityDeg2: number;
  /** Conditional luminosity distance along the line of sight, Mpc (3D maps). */
  readonly distanceMpc?: number;
  readonly distanceStdMpc?: number;
  /** Message id of the GW alert whose map gave these numbers. */
  readonly alertId?: string;
}

/** The context of one scoring. */
export interface ScoreContext {
  /** The associated GW event; absent = light curve alone. */
  readonly gw?: GwContext;
  /** Why there is no GW context (shown in the explanation), e.g. "no live GW event". */
  readonly noGwReason?: string;
}
