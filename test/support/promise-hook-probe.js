// Preloaded into a server process (NODE_OPTIONS=--require) by test/e2e/promise-hooks.test.ts.
// On SIGUSR2 it prints whether promise hooks are on: once any AsyncLocalStorage has run, Node 20
// gives every promise an async id, so a reaction job sees a non-zero executionAsyncId().
const { executionAsyncId } = require('node:async_hooks');

process.on('SIGUSR2', () => {
  void Promise.resolve()
    .then(() => executionAsyncId())
    .then((id) => process.stderr.write(`${JSON.stringify({ msg: 'promise hooks probe', promiseHooks: id !== 0 })}\n`));
});
