import type { LabelSelector } from '../../lambda/core/kube-types';
import { selectorMatches } from '../../lambda/core/label-selector';

const labels = { app: 'web', tier: 'front' };

describe('selectorMatches', () => {
  test.each<[string, LabelSelector | undefined, boolean]>([
    ['a missing selector matches nothing', undefined, false],
    ['an empty selector matches everything (policy/v1)', {}, true],
    ['empty matchLabels and matchExpressions match everything', { matchLabels: {}, matchExpressions: [] }, true],
    ['matchLabels: every pair equal', { matchLabels: { app: 'web', tier: 'front' } }, true],
    ['matchLabels: one value differs', { matchLabels: { app: 'web', tier: 'back' } }, false],
    ['matchLabels: key absent', { matchLabels: { team: 'a' } }, false],
    ['In: value listed', { matchExpressions: [{ key: 'app', operator: 'In', values: ['api', 'web'] }] }, true],
    ['In: value not listed', { matchExpressions: [{ key: 'app', operator: 'In', values: ['api'] }] }, false],
    ['In: key absent', { matchExpressions: [{ key: 'team', operator: 'In', values: ['a'] }] }, false],
    ['NotIn: value not listed', { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['api'] }] }, true],
    ['NotIn: value listed', { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, false],
    ['NotIn: key absent matches', { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['a'] }] }, true],
    ['Exists: key present', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, true],
    ['Exists: key absent', { matchExpressions: [{ key: 'team', operator: 'Exists' }] }, false],
    ['DoesNotExist: key absent', { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, true],
    ['DoesNotExist: key present', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    [
      'matchLabels AND matchExpressions: both hold',
      { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }] },
      true,
    ],
    [
      'matchLabels AND matchExpressions: expression fails',
      { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] },
      false,
    ],
    [
      'matchLabels AND matchExpressions: label fails',
      { matchLabels: { app: 'api' }, matchExpressions: [{ key: 'tier', operator: 'Exists' }] },
      false,
    ],
    ['invalid: In without values matches nothing', { matchExpressions: [{ key: 'app', operator: 'In', values: [] }] }, false],
    ['invalid: NotIn without values matches nothing', { matchExpressions: [{ key: 'team', operator: 'NotIn' }] }, false],
    [
      'invalid: Exists with values matches nothing',
      { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['web'] }] },
      false,
    ],
    [
      'invalid: unknown operator matches nothing',
      { matchExpressions: [{ key: 'app', operator: 'Gt' as 'In', values: ['1'] }] },
      false,
    ],
  ])('%s', (_case, selector, expected) => {
    // Arrange: the table row

    // Act
    const matches = selectorMatches(selector, labels);

    // Assert
    expect(matches).toBe(expected);
  });

  test('a label named like an Object.prototype member is not present unless set', () => {
    // Arrange
    const selector: LabelSelector = { matchExpressions: [{ key: 'constructor', operator: 'Exists' }] };

    // Act
    const matches = selectorMatches(selector, {});

    // Assert
    expect(matches).toBe(false);
  });

  test('an empty selector matches a pod without labels', () => {
    // Arrange
    const selector: LabelSelector = {};

    // Act
    const matches = selectorMatches(selector, {});

    // Assert
    expect(matches).toBe(true);
  });
});
