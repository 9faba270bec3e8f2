/**
 * `[skip ci]` (or `[ci skip]`, `[no ci]`) in a commit message: a push or pull request whose head commit
 * says so starts no run (as in GitHub Actions, GitLab CI and Woodpecker). A
 * run asked for by a person (a `/hodei run` comment, the API, `hodei run`)
 * still starts.
 */

/** The marker the message carries (as written there), or null. Case and inner spaces do not matter: `[Skip  CI]` counts. */
export function skipCiMarker(message: string): string | null {
  const m = /\[\s*(skip\s+ci|ci\s+skip|no\s+ci)\s*\]/i.exec(message);
  return m ? m[0] : null;
}
