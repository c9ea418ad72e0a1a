/**
 * What `check-config` finds in the files a job's `file_sd_configs` name, as promtool does:
 * each file read and parsed as discovery would read it (a list of target groups), its label
 * names valid under the job's `metric_name_validation_scheme`, its targets valid addresses.
 * A running Tributary only logs such problems (the file may be mid-edit, and its last good
 * groups stay), so they are checked here rather than at load.
 */

import { compilePattern, expandPattern } from '../common/glob.js';
import type { JobProblem } from '../config/load.js';
import type { ScrapeConfig } from '../config/schema.js';
import { isLegacyLabelName } from '../model/names.js';
import { readGroups } from './file-sd.js';
import { ADDRESS_LABEL } from './target-group.js';

/** Passed to the loader as its `jobProblems` (LoadOptions) by `check-config`. */
export async function fileSdProblems(job: ScrapeConfig): Promise<JobProblem[]> {
  const problems: JobProblem[] = [];
  for (const [k, sd] of job.file_sd_configs.entries()) {
    for (const [m, pattern] of sd.files.entries()) {
      const at = ['file_sd_configs', k, 'files', m];
      for (const file of await expandPattern(compilePattern(pattern))) {
        const say = (message: string) => problems.push({ at, message: `file_sd file ${file}: ${message}` });
        let groups;
        try {
          groups = await readGroups(file);
        } catch (err) {
          say((err as Error).message);
          continue;
        }
        groups.forEach((g, i) => {
          for (const name of Object.keys(g.labels)) {
            if (job.metric_name_validation_scheme === 'legacy' && !name.startsWith('__') && !isLegacyLabelName(name))
              say(`target group ${i}: ${JSON.stringify(name)} is not a valid label name under metric_name_validation_scheme legacy`);
          }
          if (job.relabel_configs.length > 0) return;
          for (const t of g.targets) {
            const problem = targetAddressProblem(t[ADDRESS_LABEL]);
            if (problem) say(`target group ${i}: ${problem}`);
          }
        });
      }
    }
  }
  return problems;
}

/**
 * What is wrong with a target address as written (file_sd targets, checked by `check-config`).
 * A URL or `host:port/path` is fine: vmagent takes its scheme and path (scrape/target.ts
 * splitAddress), so only an empty host or whitespace is refused.
 */
export function targetAddressProblem(t: string): string | undefined {
  if (/\s/.test(t)) return `${JSON.stringify(t)} is not a valid target address: it contains whitespace`;
  const host = t.replace(/^https?:\/\//, '').split('/')[0];
  if (host === '') return `${JSON.stringify(t)} is not a valid target address: no host`;
  return undefined;
}
