/** `npm run bench`: every benchmark suite of the repository, one after another. */
import { fileURLToPath } from 'node:url';
import { runExpositionBench } from './exposition.js';
import { runGatewayBench } from './gateway.js';
import { runProtobufBench } from './protobuf.js';
import { runRelabelBench } from './relabel.js';
import { runRemoteWriteBench } from './remotewrite.js';
import { runScrapeBench } from './scrape.js';

const fixtures = fileURLToPath(new URL('../../bench/fixtures/', import.meta.url));
runExpositionBench(fixtures + 'node_exporter.txt');
runProtobufBench(fixtures + 'node_exporter.txt');
runRelabelBench();
await runGatewayBench();
await runScrapeBench(fixtures + 'node_exporter.txt');
await runRemoteWriteBench();
