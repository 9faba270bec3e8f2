/**
 * Who a request acts for: the operator's admin token, a person signed in
 * through a forge (by the dashboard's session cookie or a personal token),
 * or nobody.
 */
export interface SignedInUser {
  id: string;
  forge: "github" | "gitea";
  login: string;
  name: string | null;
}

export type Principal =
  | { kind: "admin" }
  | { kind: "user"; user: SignedInUser; via: "session"; csrfToken: string }
  | { kind: "user"; user: SignedInUser; via: "token"; tokenId: string }
  | { kind: "anonymous" };

/** How the principal is named in a run's history and the audit log. */
export function actorName(principal: Principal): string {
  switch (principal.kind) {
    case "admin":
      return "admin token";
    case "user":
      return principal.user.login;
    case "anonymous":
      return "anonymous";
  }
}
