/**
 * Errors a handler throws to answer with a 4xx/5xx; the app's error handler
 * turns them (and fastify's own, e.g. 400 validation, 413, 415) into
 * `{ "error": "..." }` with the status.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export const badRequest = (m: string) => new HttpError(400, m);
export const notFound = (m: string) => new HttpError(404, m);
export const conflict = (m: string) => new HttpError(409, m);
export const unavailable = (m: string) => new HttpError(503, m);
