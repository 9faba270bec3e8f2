/** The HTTP status of a Docker Engine API error from dockerode (404 no such thing, 409 conflict), if it has one. */
export function dockerStatusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}
