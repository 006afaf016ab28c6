// No browser globals here: unit tests import it.

/** An API refusal carried through TanStack Query: the message to show and the code to act on. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The message to show for any error a query or mutation raised. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return "The server could not be reached. Check the connection and try again.";
}
