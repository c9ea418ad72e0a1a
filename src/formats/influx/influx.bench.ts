/**
 * The Influx line parser alone, on a Telegraf-like payload (cpu, mem, disk, diskio, net, system
 * from 50 hosts, ns timestamps): rows (samples) per CPU-second as an HTTP request drives it (a
 * LineSplitter over 64 KiB chunks into a sink that only counts), with the series cache warm (a
 * client pushing the same series every interval) and cold (every series new: labels built), and
 * a payload with escapes and quoted string fields (the slower paths).
 */

import { compare, CountingSink, pushLines, type Contender } from '../../../bench/harness.js';
import { InfluxParser, InfluxSeries, type InfluxOptions } from './parser.js';

const OPTS: InfluxOptions = { measurementFieldSeparator: '_', skipSingleField: false, skipMeasurement: false, dbLabel: 'db', trimTimestampMs: 1 };
const CHUNK = 64 * 1024;

/** Telegraf's default inputs for `hosts` hosts at one instant; returns the text and its sample count. */
export function telegrafPayload(hosts: number, escapes = false): { text: string; samples: number } {
  const ts = '1700000000000000000';
  const lines: string[] = [];
  let samples = 0;
  const add = (line: string, fields: number) => {
    lines.push(line);
    samples += fields;
  };
  for (let h = 0; h < hosts; h++) {
    const host = escapes ? `web\\ ${h},dc=eu\\,west` : `web-${h}.example.com`;
    for (let c = -1; c < 8; c++) {
      const cpu = c < 0 ? 'cpu-total' : `cpu${c}`;
      add(
        `cpu,cpu=${cpu},host=${host} usage_guest=0,usage_guest_nice=0,usage_idle=${90 + c * 0.37},usage_iowait=0.0502,usage_irq=0,usage_nice=0,usage_softirq=0.1004,usage_steal=0,usage_system=${2.3 + c},usage_user=${5.1 + c} ${ts}`,
        10,
      );
    }
    add(`mem,host=${host} active=4857643008i,available=12000000000i,available_percent=71.3,buffered=300000000i,cached=5000000000i,free=7000000000i,total=16800000000i,used=4800000000i,used_percent=28.7 ${ts}`, 9);
    for (const d of ['/', '/var', '/home']) {
      add(`disk,device=sda1,fstype=ext4,host=${host},mode=rw,path=${d} free=${h}12345678i,inodes_free=1234567i,inodes_total=3000000i,inodes_used=1765433i,total=100000000000i,used=5000000000i,used_percent=4.76 ${ts}`, 7);
    }
    add(`diskio,host=${host},name=sda io_time=123456i,iops_in_progress=0i,read_bytes=987654321i,read_time=1234i,reads=54321i,weighted_io_time=45678i,write_bytes=123456789i,write_time=5678i,writes=98765i ${ts}`, 9);
    add(`net,host=${host},interface=eth0 bytes_recv=${h}9876543210i,bytes_sent=1234567890i,drop_in=0i,drop_out=0i,err_in=0i,err_out=0i,packets_recv=9876543i,packets_sent=1234567i ${ts}`, 8);
    add(`system,host=${host} load1=0.52,load15=0.31,load5=0.45,n_cpus=8i,n_users=2i,uptime=1234567u${escapes ? ',uptime_format="14 days, 6:56"' : ''} ${ts}`, 6);
  }
  return { text: lines.join('\n') + '\n', samples };
}

function run(buf: Buffer, series: InfluxSeries): number {
  const out = new CountingSink(1700000000000);
  pushLines(new InfluxParser(series, 'telegraf', 'auto'), buf, out, 256 * 1024, CHUNK);
  if (out.invalidRows > 0) throw new Error(`${out.invalidRows} lines refused`);
  return out.rows;
}

export function runInfluxBench(): void {
  const plain = telegrafPayload(50);
  const esc = telegrafPayload(50, true);
  const plainBuf = Buffer.from(plain.text);
  const escBuf = Buffer.from(esc.text);
  const warm = new InfluxSeries(OPTS);
  const warmEsc = new InfluxSeries(OPTS);
  const contenders: Contender[] = [
    { name: 'warm series cache (a client pushing again)', run: () => run(plainBuf, warm) },
    { name: 'cold cache (every series built)', run: () => run(plainBuf, new InfluxSeries(OPTS)) },
    { name: 'escapes + string fields, warm', run: () => run(escBuf, warmEsc) },
  ];
  const results = compare(contenders);
  console.log(`influx-parser: Telegraf-like payload, 50 hosts — ${(plainBuf.length / 1024).toFixed(1)} KiB, ${plain.samples} samples (CPU time, best of 7 interleaved rounds)`);
  for (const r of results) {
    const bytes = r.name.startsWith('escapes') ? escBuf.length : plainBuf.length;
    const samples = r.name.startsWith('escapes') ? esc.samples : plain.samples;
    const rate = samples / (r.nsPerRun / 1e9);
    console.log(`  ${r.name.padEnd(44)} ${(rate / 1e6).toFixed(2).padStart(6)} M rows/s ${((bytes / r.nsPerRun) * 1e3).toFixed(1).padStart(7)} MB/s ${(r.nsPerRun / samples).toFixed(0).padStart(5)} ns/row`);
  }
}
