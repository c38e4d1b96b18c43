/** Continuous profiling policies, one per service (the OAP's continuous_profiling_policy model). */

export interface ContinuousPolicyRecord {
  serviceId: string;
  /** Changes whenever the policy changes; agents re-fetch on a new uuid. */
  uuid: string;
  /** JSON of the policy targets (see continuous profiling). */
  configurationJson: string;
  updateTime: number;
}

export interface ContinuousPolicyStore {
  /** Insert, or replace the service's policy. */
  savePolicy(policy: ContinuousPolicyRecord): Promise<void>;
  /** The stored policies of these services, ordered by serviceId. */
  getPolicies(serviceIds: string[]): Promise<ContinuousPolicyRecord[]>;
}
