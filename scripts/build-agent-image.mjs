#!/usr/bin/env node
// Writes the agent image (src/providers/agent-image.ts) as a `docker save`
// archive, for publishing to a registry that the kubernetes provider's
// clusters (or remote Docker engines) pull from:
//   npm run build:agent-image [-- OUT]     (default dist/agent-image.tar)
//   docker load -i dist/agent-image.tar    (prints the tag, hodei-agent:<digest>)
//   docker tag hodei-agent:<digest> registry.example.com/hodei-agent:<digest>
//   docker push registry.example.com/hodei-agent:<digest>
// then start the server with HODEI_AGENT_IMAGE=registry.example.com/hodei-agent:<digest>.
// The image holds this machine's Node binary and libraries, so build it on the
// architecture the cluster's nodes have.
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.resolve(process.argv[2] ?? path.join(root, "dist/agent-image.tar"));
const { hostAgentRuntime } = await import(path.join(root, "dist/providers/agent-runtime.js"));
const { agentImageOf, writeAgentImageArchive } = await import(path.join(root, "dist/providers/agent-image.js"));
const image = await agentImageOf(await hostAgentRuntime());
await writeAgentImageArchive(image, out);
console.log(`${image.tag} written to ${out}`);
