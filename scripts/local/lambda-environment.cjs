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

if (workerData.cpuProfileDir) profileThisThread(workerData.cpuProfileDir);

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
    parentPort.postMessage({ id, result: result === undefined ? null : result, cpuSeconds: threadCpuSeconds() });
  } catch (error) {
    parentPort.postMessage({ id, error: errorPayload(error), cpuSeconds: threadCpuSeconds() });
  }
});

/** CPU this environment's thread has used so far (Linux; undefined elsewhere), for the runtime's usage figures. */
function threadCpuSeconds() {
  try {
    const stat = require('node:fs').readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}
parentPort.postMessage({ ready: true });

/**
 * SLUICE_LOCAL_CPU_PROFILE=<dir> (a tool for changing the code): V8 CPU profiles of this environment,
 * one file per 10 s, since a terminated worker thread never writes the profile --cpu-prof would.
 */
function profileThisThread(dir) {
  const session = new (require('node:inspector').Session)();
  session.connect();
  const post = (method) => new Promise((resolve, reject) => session.post(method, (error, result) => (error ? reject(error) : resolve(result))));
  let sequence = 0;
  post('Profiler.enable').then(() => post('Profiler.start'));
  setInterval(async () => {
    const { profile } = await post('Profiler.stop');
    require('node:fs').writeFileSync(`${dir}/${functionName}-${require('node:worker_threads').threadId}-${sequence++}.cpuprofile`, JSON.stringify(profile));
    await post('Profiler.start');
  }, 10_000).unref();
}
