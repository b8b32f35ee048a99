'use strict';
/**
 * One local execution environment (a worker thread of the local Lambda runtime): loads one bundled
 * handler once, as a Lambda cold start does, then runs one invocation at a time with its module
 * scope (clients, SFTP sessions, the broker connection) kept across invocations, as a warm Lambda
 * environment does. Plain CommonJS: it runs in threads without the TypeScript loader.
 */
const { parentPort, workerData } = require('node:worker_threads');

const { bundle, exportName, functionName, exposeGc, sourceMaps } = workerData;
if (sourceMaps) process.setSourceMapsEnabled(true);
if (exposeGc && typeof globalThis.gc !== 'function') {
  // --expose-gc from the function's NODE_OPTIONS: a V8 flag, which a worker thread cannot be given
  // on its own command line; set it before the context that provides `gc` is created.
  require('node:v8').setFlagsFromString('--expose-gc');
  globalThis.gc = require('node:vm').runInNewContext('gc');
}

let handler;
let initError;
try {
  handler = require(bundle)[exportName];
  if (typeof handler !== 'function') throw new Error(`${bundle} exports no function ${exportName}`);
} catch (error) {
  initError = error;
}

const errorPayload = (error) => ({
  errorType: error instanceof Error ? error.name : 'Error',
  errorMessage: error instanceof Error ? error.message : String(error),
});

parentPort.on('message', async ({ id, event, requestId, deadline }) => {
  if (initError) {
    parentPort.postMessage({ id, error: { ...errorPayload(initError), errorType: 'Runtime.InitError' }, fatal: true });
    return;
  }
  const context = {
    awsRequestId: requestId,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: String(workerData.memorySize),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
  try {
    const result = await handler(event, context);
    parentPort.postMessage({ id, result: result === undefined ? null : result });
  } catch (error) {
    parentPort.postMessage({ id, error: errorPayload(error) });
  }
});
parentPort.postMessage({ ready: true });
