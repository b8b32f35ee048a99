'use strict';
/**
 * Serverless plugin, active only when `npm start` (or the test stack) sets SLUICE_OFFLINE_HTTP_ONLY=1:
 * leaves serverless-offline (and serverless-esbuild under it) only the HTTP API's functions. The
 * queue and scheduled functions run in the local Lambda runtime (scripts/local/lambda-runtime.ts),
 * which keeps warm environments as Lambda does; serverless-offline has no SQS event source and,
 * measured here, held gigabytes for them. Listed first in serverless.yml so its `initialize` hook
 * runs before serverless-esbuild reads the function list. Once the bundles are built it also stops
 * esbuild's service process, which otherwise stays alive holding the build's memory (1.5 GiB RSS
 * measured for the HTTP functions alone), and turns off serverless-esbuild's rebuild on file change.
 * No effect on package or deploy.
 */
class OfflineHttpOnly {
  constructor(serverless) {
    this.hooks = {
      initialize: () => {
        if (process.env.SLUICE_OFFLINE_HTTP_ONLY !== '1') return;
        const functions = serverless.service.functions;
        for (const [name, definition] of Object.entries(functions)) {
          const events = definition.events || [];
          const http = events.some((event) => event.httpApi || event.http);
          if (!http && name !== 'authorizer') delete functions[name];
        }
        // No rebuild on file change: the local runtime's bundles would not follow, and each rebuild
        // restarted esbuild's service (1.5 GiB RSS measured, kept until exit). Restart npm start instead.
        const custom = (serverless.service.custom = serverless.service.custom || {});
        custom.esbuild = { ...custom.esbuild, watch: { ...(custom.esbuild && custom.esbuild.watch), pattern: [] } };
      },
      // After serverless-esbuild's `before:offline:start:init` bundling, before serverless-offline starts.
      'offline:start:init': async () => {
        if (process.env.SLUICE_OFFLINE_HTTP_ONLY !== '1') return;
        await require('esbuild').stop();
      },
    };
  }
}

module.exports = OfflineHttpOnly;
