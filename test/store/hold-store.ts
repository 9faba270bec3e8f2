// A stand-in server for store-process.test.ts (not a test file itself): opens the embedded
// store in argv[2], prints "open" once it answers, then waits to be killed.
import { openDatabase } from "../../src/store/open.js";

const db = await openDatabase({ dataDir: process.argv[2]!, log: (l) => console.error(l) });
await db.query("SELECT 1");
process.stdout.write("open\n");
setInterval(() => undefined, 60_000);
