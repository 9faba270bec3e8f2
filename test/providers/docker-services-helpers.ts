/** Services for the docker provider's tests, from the tests' busybox image, and what an attempt leaves. */
import Docker from "dockerode";
import type { PlannedService } from "../../src/pipeline-parser/types.js";
import { hodeiContainers, TEST_IMAGE } from "./docker-engine.js";
import { waitFor } from "./docker-plane.js";

const docker = new Docker();

export function service(name: string, overrides: Partial<PlannedService> = {}): PlannedService {
  return { name, image: TEST_IMAGE, env: {}, command: null, ports: [], ready: null, readyTimeoutSeconds: 30, ...overrides };
}

/** Answers "ready" to every connection on 5432, as long as it runs. */
export const fakeDatabase = (name = "db"): PlannedService =>
  service(name, { command: ["nc", "-ll", "-p", "5432", "-e", "echo", "ready"], ports: [5432], ready: { port: 5432 } });

export async function runNetworks(runId: string): Promise<Docker.NetworkInspectInfo[]> {
  return docker.listNetworks({ filters: { label: [`hodei.run=${runId}`] } });
}

/** Nothing with the run's labels: no container (stage, service, probe), no network. */
export const nothingLeft = (runId: string): Promise<boolean> =>
  waitFor(`the containers and networks of run ${runId} to go`, async () => (await hodeiContainers(docker, runId)).length === 0 && (await runNetworks(runId)).length === 0, 20_000);

