// Ends the run with a plain "N passed, N failed" line (jest's own summary says
// "N passed, N total"), which CI reads to know how many tests ran. Written at
// exit, so it comes after jest's summary, which the default reporter prints last.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `jest: ${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`;
    process.once('exit', () => process.stdout.write(`${line}\n`));
  }
}
module.exports = SummaryReporter;
