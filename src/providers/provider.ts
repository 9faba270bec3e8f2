/**
 * The provider port: where agents come from. The control plane asks a
 * provider for agents; they dial back over gRPC like any other agent, so the
 * engine never learns which provider an agent came from except by its
 * `provider` label.
 */
export interface AgentEndpoint {
  /** host:port of the control plane's gRPC listener, as seen from the agent. */
  server: string;
  /** A token the agent registers with. */
  token: string;
}

export interface Provider {
  readonly name: "local" | "docker" | "kubernetes";
  /** Brings up the provider's agents (or gets ready to provision them). */
  start(endpoint: AgentEndpoint): Promise<void>;
  /** Releases everything the provider started; nothing of it outlives this call. */
  stop(): Promise<void>;
}
