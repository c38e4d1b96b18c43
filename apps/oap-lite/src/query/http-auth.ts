/**
 * Optional authentication of the HTTP port (off by default, as in the OAP, whose UI reaches it
 * through a proxy that authenticates): a bearer token (SW_CORE_REST_AUTHENTICATION), HTTP basic
 * credentials (SW_CORE_REST_AUTH_USER / SW_CORE_REST_AUTH_PASSWORD), or either. Secrets are
 * compared in constant time. /healthcheck stays open so probes need no secret.
 */
import type { IncomingMessage } from 'node:http';
import { constantTimeEqual } from '../receivers/authentication';

export interface HttpAuthentication {
  token: string;
  user: string;
  password: string;
}

export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthcheck', '/health']);

export const httpAuthenticationEnabled = (auth: HttpAuthentication): boolean => auth.token !== '' || auth.user !== '';

/** Whether the request carries credentials that this configuration accepts. */
export const authenticated = (auth: HttpAuthentication, req: IncomingMessage): boolean => {
  const header = req.headers.authorization ?? '';
  const space = header.indexOf(' ');
  const scheme = space > 0 ? header.slice(0, space).toLowerCase() : '';
  const value = space > 0 ? header.slice(space + 1).trim() : '';
  if (auth.token && scheme === 'bearer') return constantTimeEqual(value, auth.token);
  if (auth.user && scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    // Both compared, always: the time does not tell which part was wrong.
    const userOk = constantTimeEqual(decoded.slice(0, colon), auth.user);
    const passwordOk = constantTimeEqual(decoded.slice(colon + 1), auth.password);
    return userOk && passwordOk;
  }
  return false;
};

/** The WWW-Authenticate challenges this configuration offers. */
export const challenges = (auth: HttpAuthentication): string =>
  [auth.user ? 'Basic realm="oap-lite", charset="UTF-8"' : '', auth.token ? 'Bearer realm="oap-lite"' : '']
    .filter(Boolean)
    .join(', ');
