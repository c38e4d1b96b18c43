/** An error the user can fix (bad flag, unknown name, unreachable server): printed without a stack. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
