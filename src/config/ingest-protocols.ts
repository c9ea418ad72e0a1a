/** The protocols whose HTTP paths `--ingest-http` (and `ingest.<protocol>.http: true`) turn on; without zod, for the CLI. */
export const INGEST_HTTP_PROTOCOLS = ['remote_write', 'influx', 'import', 'opentsdb', 'datadog', 'opentelemetry'] as const;
export type IngestHttpProtocol = (typeof INGEST_HTTP_PROTOCOLS)[number];
