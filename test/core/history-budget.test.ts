import {
  HISTORY_EVENTS,
  HISTORY_EVENTS_BUDGET,
  WORST_ITERATION_EVENTS,
  mustContinueAsNew,
} from '../../lambda/core/history-budget';

/** Step Functions Standard fails an execution past this many history events. */
const STEP_FUNCTIONS_HISTORY_CAP = 25_000;

describe('history budget', () => {
  test('costs: a Task 6, a Choice 2, a Wait 2; the worst iteration 18; the budget 15,000', () => {
    // Arrange
    const expected = { task: 6, choice: 2, wait: 2 };

    // Act
    const costs = { ...HISTORY_EVENTS };

    // Assert
    expect(costs).toEqual(expected);
    expect(WORST_ITERATION_EVENTS).toBe(18);
    expect(HISTORY_EVENTS_BUDGET).toBe(15_000);
  });

  test('the budget leaves room under the cap for at least 500 unseen retries (3 events each)', () => {
    // Arrange
    const room = STEP_FUNCTIONS_HISTORY_CAP - HISTORY_EVENTS_BUDGET;

    // Act
    const retriesThatFit = Math.floor(room / 3);

    // Assert
    expect(retriesThatFit).toBeGreaterThanOrEqual(500);
  });

  test.each([
    // historyEvents, must continue in a new execution
    [0, false],
    [10, false],
    [14_000, false],
    [14_981, false],
    [14_982, false], // 14,982 + 18 = 15,000: one worst iteration still fits exactly
    [14_983, true], // 15,001 would pass the budget
    [15_000, true],
    [24_999, true],
  ])('%i events used: continue as new = %s', (historyEvents, expected) => {
    // Arrange (nothing: pure input)

    // Act
    const result = mustContinueAsNew(historyEvents);

    // Assert
    expect(result).toBe(expected);
  });
});
