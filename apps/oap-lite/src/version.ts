/** Reported by the GraphQL `version` query and the status endpoints. */
export const OAP_LITE_VERSION = '0.1.0 (oap-lite, SkyWalking query protocol 10.x)';
