/** Registered agents, so an agent keeps its identity across restarts of the control plane. */
import type { Queryable } from "./database.js";

export interface AgentRecord {
  id: string;
  secretHash: Buffer;
  labels: Record<string, string>;
  capacity: number;
  hostname: string;
  /** SHA-256 of the client certificate issued at registration; null for an agent without one. */
  certFingerprint: string | null;
}

export class AgentRepository {
  constructor(private readonly db: Queryable) {}

  async insert(agent: AgentRecord, at: Date): Promise<void> {
    await this.db.query(
      `insert into agents (id, secret_hash, labels, capacity, hostname, registered_at, last_seen_at, cert_fingerprint)
       values ($1, $2, $3, $4, $5, $6, $6, $7)`,
      [agent.id, agent.secretHash, JSON.stringify(agent.labels), agent.capacity, agent.hostname, at, agent.certFingerprint],
    );
  }

  async find(id: string): Promise<AgentRecord | null> {
    const { rows } = await this.db.query<{
      id: string;
      secret_hash: Uint8Array;
      labels: Record<string, string>;
      capacity: number;
      hostname: string;
      cert_fingerprint: string | null;
    }>(`select id, secret_hash, labels, capacity, hostname, cert_fingerprint from agents where id = $1`, [id]);
    const r = rows[0];
    if (!r) return null;
    return {
      id: r.id,
      secretHash: Buffer.from(r.secret_hash),
      labels: r.labels,
      capacity: r.capacity,
      hostname: r.hostname,
      certFingerprint: r.cert_fingerprint,
    };
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.db.query(`update agents set last_seen_at = $2 where id = $1`, [id, at]);
  }
}
