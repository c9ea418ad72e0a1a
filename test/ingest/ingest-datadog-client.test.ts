/**
 * The official DataDog API client (`@datadog/datadog-api-client`) submitting metrics to Tributary:
 * its base server pointed at `http://127.0.0.1:<port>/datadog` and a fake API key, v2
 * `MetricsApi.submitMetrics` (JSON; plain, gzip and deflate) and v1 `MetricsApi.submitMetrics`.
 * The protobuf body the DataDog agent sends is checked against protobufjs with agent-payload's
 * schema, so that the hand-written decoder reads what a real encoder writes.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, v1, v2 } from '@datadog/datadog-api-client';
import protobuf from 'protobufjs';
import { waitFor } from '../helpers/scrape-harness.js';
import { DatadogParser } from '../../src/formats/datadog/parser.js';
import { MetricPayloadReader } from '../../src/formats/datadog/proto.js';
import { startIngest } from '../helpers/ingest-harness.js';

async function start(t: import('node:test').TestContext) {
  const { rt, sink } = await startIngest(t, `ingest:\n  datadog: {http: true}\n`);
  const configuration = client.createConfiguration({
    authMethods: { apiKeyAuth: 'fake-api-key' },
    baseServer: new client.ServerConfiguration(`http://${rt.address}/datadog`, {}),
  });
  return { sink, configuration };
}

const T = Math.floor(Date.now() / 1000) - 60;

test('datadog-api-client v2 submitMetrics: plain, gzip and deflate bodies land with their tags and resources', async (t) => {
  const { sink, configuration } = await start(t);
  const api = new v2.MetricsApi(configuration);
  const encodings: (v2.MetricContentEncoding | undefined)[] = [undefined, 'gzip', 'deflate'];
  for (const contentEncoding of encodings) {
    const accepted = await api.submitMetrics({
      contentEncoding,
      body: {
        series: [
          {
            metric: `client.v2.${contentEncoding ?? 'plain'}`,
            type: 3,
            points: [
              { timestamp: T, value: 1.5 },
              { timestamp: T + 10, value: 2.5 },
            ],
            resources: [{ name: 'web-1', type: 'host' }],
            tags: ['env:test', 'team:infra'],
            unit: 'request',
          },
        ],
      },
    });
    assert.deepEqual(accepted.errors ?? [], []);
  }
  await waitFor('six samples', () => sink.samples.length >= 6, 10_000);
  assert.deepEqual(
    sink.samples.map((s) => [s.labels.toString(), s.value, s.timestampMs]),
    ['plain', 'gzip', 'deflate'].flatMap((e) => [
      [`{"client.v2.${e}", env="test", host="web-1", team="infra"}`, 1.5, T * 1000],
      [`{"client.v2.${e}", env="test", host="web-1", team="infra"}`, 2.5, (T + 10) * 1000],
    ]),
  );
});

test('datadog-api-client v1 submitMetrics: host, tags and [timestamp, value] points', async (t) => {
  const { sink, configuration } = await start(t);
  const api = new v1.MetricsApi(configuration);
  const accepted = await api.submitMetrics({
    body: {
      series: [
        { metric: 'client.v1.load', host: 'db-1', type: 'gauge', interval: 10, tags: ['env:test', 'role:primary'], points: [[T, 0.25], [T + 10, 0.5]] },
        { metric: 'client.v1.count', type: 'count', points: [[T, 7]] },
      ],
    },
  });
  assert.equal(accepted.status, 'ok');
  await waitFor('three samples', () => sink.samples.length >= 3, 10_000);
  assert.deepEqual(
    sink.samples.map((s) => [s.labels.toString(), s.value, s.timestampMs]),
    [
      ['{"client.v1.load", env="test", host="db-1", role="primary"}', 0.25, T * 1000],
      ['{"client.v1.load", env="test", host="db-1", role="primary"}', 0.5, (T + 10) * 1000],
      ['{"client.v1.count"}', 7, T * 1000],
    ],
  );
  // the agent validates its key before it sends; the client's validate call passes too
  const valid = await new v1.AuthenticationApi(configuration).validate();
  assert.equal(valid.valid, true);
});

/** agent-payload's proto/metrics/agent_payload.proto, the parts of MetricPayload the decoder reads and some it skips. */
const AGENT_PAYLOAD = `
syntax = "proto3";
package datadog.agentpayload;
message MetricPayload {
  enum MetricType { UNSPECIFIED = 0; COUNT = 1; RATE = 2; GAUGE = 3; }
  message MetricPoint { double value = 1; int64 timestamp = 2; }
  message Resource { string type = 1; string name = 2; }
  message MetricSeries {
    repeated Resource resources = 1;
    string metric = 2;
    repeated string tags = 3;
    repeated MetricPoint points = 4;
    MetricType type = 5;
    string unit = 6;
    string source_type_name = 7;
    int64 interval = 8;
  }
  repeated MetricSeries series = 1;
}
`;

test('datadog protobuf: the decoder reads MetricPayload as protobufjs encodes it', () => {
  const MetricPayload = protobuf.parse(AGENT_PAYLOAD).root.lookupType('datadog.agentpayload.MetricPayload');
  const msg = MetricPayload.fromObject({
    series: [
      {
        resources: [{ type: 'host', name: 'agent-host' }, { type: 'kube_cluster', name: 'prod' }],
        metric: 'datadog.agent.running',
        tags: ['version:7.50.0', 'standalone'],
        points: [{ value: 1, timestamp: T }, { value: -0.5, timestamp: T + 15 }, { value: 3 }],
        type: 3,
        unit: 'unit',
        sourceTypeName: 'System',
        interval: 15,
      },
    ],
  });
  const body = Buffer.from(MetricPayload.encode(msg).finish());
  const got: [string, number, number][] = [];
  const now = Date.now();
  new MetricPayloadReader(new DatadogParser({ sanitizeMetricName: false })).read(body, {
    now,
    sample: (l, v, ts) => void got.push([l.toString(), v, ts]),
    invalid: (_line, reason) => assert.fail(reason),
  });
  const labels = '{"datadog.agent.running", host="agent-host", kube_cluster="prod", standalone="no_label_value", version="7.50.0"}';
  assert.deepEqual(got, [
    [labels, 1, T * 1000],
    [labels, -0.5, (T + 15) * 1000],
    [labels, 3, Math.floor(now / 1000) * 1000],
  ]);
});
