/**
 * TOM roles and who may do what. Roles come from the token's
 * `realm_access.roles` (Keycloak realm roles); anything else there is ignored.
 *
 * | role       | may                                                            |
 * |------------|----------------------------------------------------------------|
 * | `observer` | read everything the target permissions let them see           |
 * | `pi`       | also create and update targets, names, extras, lists, requests |
 * | `admin`    | everything, including deletes and every private target         |
 *
 * @module
 */

/** The TOM's realm roles, weakest first. */
export const ROLES = ["observer", "pi", "admin"] as const;
/** A TOM role. */
export type Role = typeof ROLES[number];

/** What a route needs. */
export type Access = "read" | "write" | "delete";

/** The weakest role allowed each kind of access. */
export const ACCESS_ROLE: Readonly<Record<Access, Role>> = {
  read: "observer",
  write: "pi",
  delete: "admin",
};

/** True when a caller holding `roles` may perform `access`. */
export function allows(roles: readonly Role[], access: Access): boolean {
  const need = ROLES.indexOf(ACCESS_ROLE[access]);
  return roles.some((r) => ROLES.indexOf(r) >= need);
}

/** The TOM roles among a token's role names. */
export function tomRoles(names: readonly unknown[]): Role[] {
  return ROLES.filter((r) => names.includes(r));
}

/** Who is calling, as the verified token says. */
export interface Principal {
  /** Subject (`sub`). */
  readonly subject: string;
  /** `preferred_username`, else the subject. */
  readonly username: string;
  /** The client the token was issued to (`azp`). */
  readonly clientId: string | null;
  readonly roles: readonly Role[];
  /** Group names (`groups` claim), for private targets. */
  readonly groups: readonly string[];
  /** Token expiry, epoch seconds. */
  readonly expiresAt: number;
}
