import { realDeps, withRealDeps, type CapabilityFactory } from '../../lambda/handlers/deps';

const hooks = { describeHook: jest.fn(), recordHeartbeat: jest.fn(), complete: jest.fn(), describeInstance: jest.fn(), groupInstances: jest.fn(), recentActivities: jest.fn() };

describe('real dependencies', () => {
  test('a capability is built on first use, once, from the base; unnamed ones are absent', () => {
    // Arrange
    const factory = jest.fn<ReturnType<CapabilityFactory<'hooks'>>, Parameters<CapabilityFactory<'hooks'>>>(() => hooks);
    // Act
    const deps = realDeps({ hooks: factory });
    // Assert
    expect(factory).not.toHaveBeenCalled();
    expect(deps.hooks).toBe(hooks);
    expect(deps.hooks).toBe(hooks);
    expect(factory).toHaveBeenCalledTimes(1);
    expect(factory.mock.calls[0][0]).toMatchObject({ config: expect.any(Object), clock: expect.any(Object), logger: expect.any(Object) });
    expect('kube' in deps).toBe(false);
    expect('executions' in deps).toBe(false);
  });

  test('a factory that throws (missing configuration) throws at the use, and again at the next use', () => {
    const deps = realDeps({ hooks: () => { throw new Error('not configured'); } });
    expect(() => deps.hooks).toThrow('not configured');
    expect(() => deps.hooks).toThrow('not configured');
  });

  test('withRealDeps binds the handler on its first invocation only', async () => {
    const make = jest.fn((deps: { hooks: unknown }) => async (input: number) => ({ input, same: deps.hooks === hooks }));
    const handler = withRealDeps(make, { hooks: () => hooks });
    expect(make).not.toHaveBeenCalled();
    await expect(handler(1, {} as never)).resolves.toEqual({ input: 1, same: true });
    await handler(2, {} as never);
    expect(make).toHaveBeenCalledTimes(1);
  });
});
