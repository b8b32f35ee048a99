import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { builtVersion, findMinio, MINIO_CACHE_DIR, MINIO_MODULE, MINIO_VERSION } from './local/minio';

/**
 * `npm run minio:install`: builds the pinned MinIO server into ~/.cache/sluice/bin with `go install`,
 * unless a binary of that version is already there (a `minio` on PATH is used as it is).
 */
const found = findMinio();
const cached = join(MINIO_CACHE_DIR, 'minio');
if (found && found !== cached) {
  console.log(`Using the MinIO on PATH: ${found}`);
} else if (found && builtVersion(found) === MINIO_VERSION) {
  console.log(`MinIO ${MINIO_VERSION} is already built: ${found}`);
} else {
  console.log(`Building ${MINIO_MODULE}@${MINIO_VERSION} into ${MINIO_CACHE_DIR} (a few minutes) ...`);
  const result = spawnSync('go', ['install', '-trimpath', `${MINIO_MODULE}@${MINIO_VERSION}`], {
    stdio: 'inherit',
    env: { ...process.env, GOBIN: MINIO_CACHE_DIR, CGO_ENABLED: '0' },
  });
  if (result.error) {
    console.error(`go install failed to run (${result.error.message}): install Go 1.24 or newer first.`);
    process.exit(1);
  }
  if (result.status !== 0) process.exit(result.status ?? 1);
  console.log(`Built ${cached}`);
}
