/**
 * A facility speaking the LCO OCS API (`/api/requestgroups/`, `validate/`,
 * `{id}/cancel/`, token auth): the real observatory network's shape, served
 * locally by the simulated observatory (actors/observatory).
 *
 * @module
 */
import {
  type Facility,
  FacilityRefusal,
  type FacilityStatus,
  type FacilityValidation,
  type ObservationParameters,
} from "./facility.ts";
import {
  OcsRequestGroup,
  type OcsRequestGroupInput,
  OcsValidation,
  TERMINAL_STATES,
} from "./ocs.ts";

/** Options of the LCO facility. */
export interface LcoOptions {
  /** Base URL of the OCS API (without /api). */
  readonly url: string;
  readonly token?: string;
  readonly proposal: string;
  readonly name?: string;
  readonly instrumentType?: string;
  readonly telescopeClass?: string;
}

/** The OCS request group for parameters: one request (epoch) per window, one configuration per filter. */
export function toRequestGroup(
  name: string,
  p: ObservationParameters,
  o: LcoOptions,
): OcsRequestGroupInput {
  return {
    name,
    proposal: o.proposal,
    observation_type: "NORMAL",
    operator: p.windows.length > 1 ? "MANY" : "SINGLE",
    ipp_value: 1.05,
    requests: p.windows.map((w) => ({
      location: { telescope_class: o.telescopeClass ?? "1m0" },
      windows: [{ start: w.start, end: w.end }],
      configurations: p.filters.map((f) => ({
        type: "EXPOSE" as const,
        instrument_type: o.instrumentType ?? "1M0-SCICAM-SINISTRO",
        instrument_configs: [{
          exposure_time: p.exposureTimeS,
          exposure_count: p.exposureCount,
          optical_elements: { filter: f },
        }],
        target: { name: p.target.name, type: "ICRS" as const, ra: p.target.ra, dec: p.target.dec },
        constraints: { max_airmass: p.maxAirmass, min_lunar_distance: p.minLunarDistance },
      })),
    })),
  };
}

/** The LCO facility. */
export function lcoFacility(o: LcoOptions): Facility {
  const base = o.url.replace(/\/$/, "");
  const call = async (path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        "Content-Type": "application/json",
        ...(o.token ? { Authorization: `Token ${o.token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (res.status === 400) throw new FacilityRefusal(JSON.stringify(json));
    if (!res.ok) {
      throw new Error(
        `${o.name ?? "LCO"} answered ${res.status} to ${path}: ${JSON.stringify(json)}`,
      );
    }
    return json;
  };
  const status = (g: OcsRequestGroup): FacilityStatus => ({
    observationId: String(g.id),
    state: g.state,
    requests: g.requests.map((r) => ({ id: String(r.id), state: r.state })),
  });
  return {
    name: o.name ?? "LCO",
    terminalStates: TERMINAL_STATES,
    async validate(p): Promise<FacilityValidation> {
      const v = OcsValidation.parse(
        await call("/api/requestgroups/validate/", toRequestGroup("validate", p, o)),
      );
      const per = v.errors.requests ?? [];
      const problems = p.windows.map((_, i) => Object.values(per[i] ?? {}).flat());
      const general = v.errors.non_field_errors ?? [];
      return {
        ok: general.length === 0 && problems.every((x) => x.length === 0),
        problems: problems.map((x) => [...general, ...x]),
      };
    },
    async submit(name, p) {
      return status(
        OcsRequestGroup.parse(await call("/api/requestgroups/", toRequestGroup(name, p, o))),
      );
    },
    async status(id) {
      return status(
        OcsRequestGroup.parse(await call(`/api/requestgroups/${encodeURIComponent(id)}/`)),
      );
    },
    async cancel(id) {
      return status(
        OcsRequestGroup.parse(
          await call(`/api/requestgroups/${encodeURIComponent(id)}/cancel/`, {}),
        ),
      );
    },
  };
}
