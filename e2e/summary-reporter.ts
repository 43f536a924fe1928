// Prints one plain closing line, "N passed, N failed, N skipped", that CI logs can be read by.
import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';

export default class SummaryReporter implements Reporter {
  #passed = 0;
  #failed = 0;
  #skipped = 0;

  onTestEnd(test: TestCase, result: TestResult): void {
    // Only the final attempt of a retried test counts.
    if (result.retry < test.retries && result.status !== 'passed' && result.status !== 'skipped') return;
    if (result.status === 'passed') this.#passed++;
    else if (result.status === 'skipped') this.#skipped++;
    else this.#failed++;
  }

  onEnd(_result: FullResult): void {
    console.log(`\n${this.#passed} passed, ${this.#failed} failed, ${this.#skipped} skipped`);
  }

  printsToStdio(): boolean {
    return false;
  }
}
