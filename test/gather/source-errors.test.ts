/**
 * How a source's failed answers are classified (source-http.ts `classified`), with the servers'
 * own texts: the kinds an export acts on (`timeout` and `too_many_series` split a batch) must not
 * be mistaken for others, whatever the status code the server chose.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classified } from '../../src/gather/source-http.js';

test('server error texts map to the kinds an export acts on', () => {
  const cases: [number, string, string][] = [
    [503, 'error when executing query="sum(rate(x[5m]))" on the time range (start=1, end=2, step=3): cannot execute query: timeout exceeded during query execution: 30.000 seconds; the timeout can be adjusted with `-search.maxQueryDuration` command-line flag', 'timeout'],
    [422, 'search error after reading 0 data blocks: error when searching tsids: the number of matching timeseries exceeds 300000; either narrow down the search or increase -search.max* command-line flag values at vmselect', 'too_many_series'],
    [400, 'cannot select more than -search.maxUniqueTimeseries=50 time series; possible solutions: to increase -search.maxUniqueTimeseries', 'too_many_series'],
    [422, 'query processing would load too many samples into memory in query execution', 'too_many_series'],
    [503, 'query timed out in expression evaluation', 'timeout'],
    [504, 'Gateway Timeout', 'timeout'],
    [401, 'Unauthorized', 'auth'],
    [403, 'forbidden', 'auth'],
    [400, 'cannot find the provided auth token "Bearer x" in config', 'auth'],
    [404, '404 page not found', 'not_found'],
    [400, 'unsupported path requested: "/api/v1/export"', 'http'],
    [500, 'internal error', 'http'],
  ];
  for (const [status, text, kind] of cases) {
    const e = classified(status, `HTTP ${status} from http://vm:8428/api/v1/query: ${text}`);
    assert.equal(e.kind, kind, text);
    assert.equal(e.status, status);
  }
  // the shown message may be cut; the kind is read from the whole text
  const long = 'x'.repeat(3_000) + ' the number of matching timeseries exceeds 50';
  assert.equal(classified(422, 'HTTP 422: (cut)', long).kind, 'too_many_series');
});
