/**
 * The control-plane processes sharing the store (migration 0012): where each
 * one's agents dial it and which CA it issues their certificates with.
 */
import type { Queryable } from "./database.js";

export interface ControlPlaneNode {
  nodeId: string;
  /** host:port of its agent listener. */
  agentAddress: string;
  caCertPem: string;
}

export class NodeRegistry {
  constructor(private readonly db: Queryable) {}

  /** Announces (or renews) this process for `ttlMs` from the store's clock. */
  async announce(node: ControlPlaneNode, ttlMs: number): Promise<void> {
    await this.db.query(
      `insert into control_plane_nodes (node_id, agent_address, ca_cert_pem, expires_at)
       values ($1, $2, $3, now() + $4 * interval '1 millisecond')
       on conflict (node_id) do update
         set agent_address = excluded.agent_address, ca_cert_pem = excluded.ca_cert_pem, expires_at = excluded.expires_at`,
      [node.nodeId, node.agentAddress, node.caCertPem, ttlMs],
    );
  }

  /** The processes whose announcement has not lapsed, other than `selfId`. */
  async livePeers(selfId: string): Promise<ControlPlaneNode[]> {
    const { rows } = await this.db.query<{ node_id: string; agent_address: string; ca_cert_pem: string }>(
      `select node_id, agent_address, ca_cert_pem from control_plane_nodes
        where node_id <> $1 and expires_at > now() order by node_id`,
      [selfId],
    );
    return rows.map((r) => ({ nodeId: r.node_id, agentAddress: r.agent_address, caCertPem: r.ca_cert_pem }));
  }

  /** Every CA certificate announced, live or not: an agent issued by a dead peer's CA may still come. */
  async caCertificates(): Promise<string[]> {
    const { rows } = await this.db.query<{ ca_cert_pem: string }>(`select distinct ca_cert_pem from control_plane_nodes`);
    return rows.map((r) => r.ca_cert_pem);
  }

}
