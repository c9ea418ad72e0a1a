/**
 * Samples pushed to Tributary in other systems' protocols, fed to the pipeline as scraped ones
 * are. Today: Prometheus remote write (1.0 and 2.0) on `POST /api/v1/write`.
 */
export { registerRemoteWriteReceiver, REMOTE_WRITE_PATH, RECEIVED_JOB, type RemoteWriteReceiverOptions } from './remote-write.js';
