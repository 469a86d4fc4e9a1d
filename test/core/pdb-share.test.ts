import { AWAKE_SLACK_MS, MAX_AWAKE_AHEAD_MS, parseDemand, sameCounts, shareOf, type DrainingNode } from '../../lambda/core/pdb-share';

const NOW = 1_000_000;
const node = (name: string, since: number, pdbs: Record<string, number>, awakeUntil = NOW + 60_000): DrainingNode => ({
  name,
  demand: { since, awakeUntil, pdbs },
});

describe('shareOf', () => {
  test.each([
    // [case, allowed, self, others, expected]
    ['alone: the whole budget up to its demand', 4, node('b', 10, { 'ns/p': 3 }), [], 3],
    ['alone, budget smaller than demand', 2, node('b', 10, { 'ns/p': 3 }), [], 2],
    ['no demand of its own', 4, node('b', 10, {}), [], 0],
    ['an earlier drain comes first', 4, node('b', 10, { 'ns/p': 3 }), [node('a', 5, { 'ns/p': 2 })], 2],
    ['an earlier drain takes it all', 2, node('b', 10, { 'ns/p': 3 }), [node('a', 5, { 'ns/p': 2 })], 0],
    ['a later drain does not count', 2, node('b', 10, { 'ns/p': 3 }), [node('c', 20, { 'ns/p': 9 })], 2],
    ['same start: node name breaks the tie', 1, node('b', 10, { 'ns/p': 1 }), [node('a', 10, { 'ns/p': 1 })], 0],
    ['same start, self first by name', 1, node('a', 10, { 'ns/p': 1 }), [node('b', 10, { 'ns/p': 1 })], 1],
    ['another PDB does not count', 1, node('b', 10, { 'ns/p': 1 }), [node('a', 5, { 'ns/q': 5 })], 1],
    ['an asleep drain holds nothing', 1, node('b', 10, { 'ns/p': 1 }), [node('a', 5, { 'ns/p': 5 }, NOW - AWAKE_SLACK_MS - 1)], 1],
    ['an announcement just past its round still counts (slack)', 1, node('b', 10, { 'ns/p': 1 }), [node('a', 5, { 'ns/p': 5 }, NOW - 1)], 0],
    ['its own stale announcement in the list is ignored', 3, node('b', 10, { 'ns/p': 1 }), [node('b', 10, { 'ns/p': 9 })], 1],
    ['several ahead share first', 5, node('d', 40, { 'ns/p': 4 }), [node('a', 10, { 'ns/p': 1 }), node('b', 20, { 'ns/p': 2 }), node('c', 50, { 'ns/p': 1 })], 2],
    ['a negative budget is none', -1, node('b', 10, { 'ns/p': 1 }), [], 0],
    ['an announcement awake further ahead than any round (not ours) holds nothing', 1, node('b', 10, { 'ns/p': 1 }), [node('a', 0, { 'ns/p': 99 }, NOW + MAX_AWAKE_AHEAD_MS + 1)], 1],
    ['one awake for a whole Lambda invocation still counts', 1, node('b', 10, { 'ns/p': 1 }), [node('a', 0, { 'ns/p': 99 }, NOW + MAX_AWAKE_AHEAD_MS)], 0],
  ])('%s', (_case, allowed, self, others, expected) => {
    expect(shareOf('ns/p', allowed as number, self as DrainingNode, others as DrainingNode[], NOW)).toBe(expected);
  });

  test('the portions of all drains never add up to more than the budget', () => {
    // Arrange: twenty drains, one PDB, budget 4, demands 1..3
    const drains = Array.from({ length: 20 }, (_, i) => node(`n${String(i).padStart(2, '0')}`, 100 + (i % 5), { 'ns/p': 1 + (i % 3) }));

    // Act
    const portions = drains.map((d) => shareOf('ns/p', 4, d, drains, NOW));

    // Assert
    expect(portions.reduce((a, b) => a + b, 0)).toBe(4);
  });
});

describe('parseDemand', () => {
  test.each([
    ['absent', undefined, undefined],
    ['not JSON', '{', undefined],
    ['missing fields', '{"since":1}', undefined],
    ['valid, non-positive counts dropped', '{"since":1,"awakeUntil":2,"pdbs":{"a/b":2,"a/c":0,"a/d":"x"}}', { since: 1, awakeUntil: 2, pdbs: { 'a/b': 2 } }],
  ])('%s', (_case, text, expected) => {
    expect(parseDemand(text)).toEqual(expected);
  });
});

test('sameCounts ignores zero entries', () => {
  expect(sameCounts({ a: 1, b: 0 }, { a: 1 })).toBe(true);
  expect(sameCounts({ a: 1 }, { a: 2 })).toBe(false);
  expect(sameCounts({}, { a: 1 })).toBe(false);
});
