/**
 * The ports: what the use cases need from the world, as interfaces the adapters implement (and the
 * tests' fakes). One file per concern; import them from here.
 */
export type { DetectedFile, FileIngestedMessage, FileStatus, FileView, NotifyJob, StaleFile, TransferJob } from '../domain/file-version';
export * from './servers';
export * from './runtime';
export * from './detection';
export * from './sftp';
export * from './transfer';
export * from './files';
export * from './observability';
