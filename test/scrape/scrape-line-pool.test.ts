/**
 * The pool that lets every target's series cache share one string per line text: lines come
 * back equal, repeated lines are pooled, and when lines seldom repeat the pool empties itself
 * and pauses, so a target population with unique lines pays nothing for it.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LinePool } from '../../src/scrape/series-cache.js';

test('line pool: equal strings back, repeated lines held once', () => {
  const pool = new LinePool();
  const page = 'node_cpu_seconds_total{cpu="0",mode="idle"} 1\nnode_cpu_seconds_total{cpu="0",mode="user"} 2\n';
  for (let target = 0; target < 50; target++) {
    for (const line of page.split('\n').filter((l) => l !== '')) {
      const text = line.slice(0, line.lastIndexOf(' '));
      assert.equal(pool.share(text), text);
    }
  }
  assert.equal(pool.size, 2);
});

test('line pool: lines that never repeat empty the pool and pause it', () => {
  const pool = new LinePool();
  for (let i = 0; i < LinePool.ROUND - 1; i++) assert.equal(pool.share(`unique_${i}{a="b"}`), `unique_${i}{a="b"}`);
  assert.equal(pool.size, LinePool.ROUND - 1);
  pool.share('one_more');
  assert.equal(pool.size, 0, 'a round with too few hits empties the pool');
  for (let i = 0; i < 1000; i++) assert.equal(pool.share(`again_${i % 10}`), `again_${i % 10}`);
  assert.equal(pool.size, 0, 'paused: nothing is pooled');
});
