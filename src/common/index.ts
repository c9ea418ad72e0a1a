/**
 * What every layer may use and no concern owns: Tributary's version (and the User-Agent built
 * from it), a pool of reusable buffers, whole writes to a file, and the file-name patterns (`*`, `?` in the last
 * component) that file_sd and `scrape_config_files` share. Nothing here imports another folder
 * of src/.
 */
export { VERSION, USER_AGENT } from './version.js';
export { compilePattern, expandPattern, type FilePattern } from './glob.js';
export { BufferPool } from './buffer-pool.js';
export { writeFully, fsProblem } from './write-fully.js';
